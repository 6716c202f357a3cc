import threading

from django.core.management.base import BaseCommand

from accounts.webhooks import webhook_deliveries_enqueue, webhook_deliveries_send, webhook_delivery_loop


class Command(BaseCommand):
    help = "Deliver memory events (add, update, delete) to the projects' webhooks; runs until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes (default 5)")

    def handle(self, *args, **options):
        if not options["once"]:
            # The same loop as the job workers' delivery thread: a freed thread takes the next due
            # delivery at once, so one project's slow endpoint does not hold up the others.
            webhook_delivery_loop(interval=options["interval"], stop=threading.Event())
            return
        webhook_deliveries_enqueue()
        counts = webhook_deliveries_send()
        if any(counts.values()):
            self.stdout.write(", ".join(f"{name} {n}" for name, n in counts.items()))
