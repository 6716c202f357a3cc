from django.contrib.auth import get_user_model
from django.db import transaction

ADMIN_USERNAME = "admin"


@transaction.atomic
def admin_user_ensure(*, password: str):
    """Create or update the superuser ``admin`` with ``password`` (MEM0G_ADMIN_PASSWORD)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME, defaults={"email": ""})
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return user
