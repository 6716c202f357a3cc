"""The review queue of decision traces: accept, edit or reject what the server inferred."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from mem0g_site.exceptions import ApplicationError
from memories.admin.common import NotSaved, each_row
from memories.admin.inlines import TraceInline
from memories.models import DecisionTrace
from memories.review import review_accept, review_edit, review_reject
from memories.review_selectors import review_decorate


class ReviewFilter(admin.SimpleListFilter):
    """The review queue first: without a choice, the changes waiting for review."""

    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [
            ("pending", "Waiting for review"),
            ("accepted", "Accepted"),
            ("rejected", "Rejected"),
            ("none", "Nothing to review"),
            ("all", "All"),
        ]

    def value(self):
        return super().value() or "pending"

    def queryset(self, request, queryset):
        return queryset if self.value() == "all" else queryset.filter(review_state=self.value())

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class ReviewForm(forms.ModelForm):
    text = forms.CharField(
        label="Corrected text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Saving a text here accepts the change with these words instead of the inferred ones "
        "(a change still waiting for review is applied with them).",
    )

    class Meta:
        model = DecisionTrace
        fields = []


@admin.register(DecisionTrace)
class ReviewAdmin(admin.ModelAdmin):
    """The review queue (``memories.review``): inferred changes with their trace. Accept, reject (undo)
    and edit go through the same services as the web UI, as ``admin:<username>``."""

    form = ReviewForm
    list_display = (
        "created_at",
        "decision",
        "waiting",
        "change_text",
        "user_id",
        "review_state",
        "reviewed_by",
        "project",
    )
    list_filter = (ReviewFilter, "decision", "project")
    list_select_related = ("project__organization",)
    search_fields = ("fact", "=user_id")
    ordering = ("-created_at",)
    actions = ["accept", "reject"]
    fields = (
        "text",
        "change_text",
        "review_state",
        "reviewed_by",
        "reviewed_at",
        "fact",
        "extractor",
        "decision",
        "why",
        "candidate_list",
        "sources",
        "memory",
        "target_id",
        "user_id",
        "agent_id",
        "created_at",
    )
    readonly_fields = tuple(name for name in fields if name != "text")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a trace goes with its memory

    def get_queryset(self, request):
        return super().get_queryset(request).defer("memory__embedding")

    def get_changelist(self, request, **kwargs):
        class ReviewChangeList(ChangeList):
            def get_results(self, request):
                super().get_results(request)
                # The page's previous texts, targets and sources: three queries per project, not per row.
                self.result_list = list(self.result_list)
                by_project: dict = {}
                for trace in self.result_list:
                    by_project.setdefault(trace.project_id, []).append(trace)
                for traces in by_project.values():
                    review_decorate(traces[0].project, traces)

        return ReviewChangeList

    def _decorated(self, obj: DecisionTrace) -> DecisionTrace:
        if not hasattr(obj, "proposed"):
            review_decorate(obj.project, [obj])
        return obj

    @admin.display(description="waiting", boolean=True)
    def waiting(self, obj: DecisionTrace) -> bool:
        return obj.is_held

    @admin.display(description="change")
    def change_text(self, obj: DecisionTrace):
        obj = self._decorated(obj)
        if obj.decision == DecisionTrace.Decision.ADD or not obj.previous:
            return format_html("<ins>{}</ins>", obj.proposed or obj.fact)
        return format_html("<del>{}</del> → <ins>{}</ins>", obj.previous, obj.proposed)

    @admin.display(description="reason")
    def why(self, obj: DecisionTrace) -> str:
        return TraceInline.why(self, obj)

    @admin.display(description="candidates")
    def candidate_list(self, obj: DecisionTrace):
        return TraceInline.candidate_list(self, obj)

    @admin.display(description="sources (what was said)")
    def sources(self, obj: DecisionTrace):
        obj = self._decorated(obj)
        return format_html_join(
            "",
            "<div><small>{} on {}:</small> “{}”</div>",
            ((s.name or s.role, s.observed_at.strftime("%Y-%m-%d"), s.content) for s in obj.source_rows),
        )

    def _each(self, request, queryset, action, done: str):
        service = {"accept": review_accept, "reject": review_reject}[action]
        each_row(
            self,
            request,
            queryset.select_related("project").only("id", "project"),
            lambda trace, actor_id: service(project=trace.project, trace_id=trace.pk, actor_id=actor_id),
            done,
            ("change", "changes"),
        )

    @admin.action(description="Accept the selected changes")
    def accept(self, request, queryset):
        self._each(request, queryset, "accept", "Accepted")

    @admin.action(description="Reject the selected changes (undo them)")
    def reject(self, request, queryset):
        self._each(request, queryset, "reject", "Rejected and undid")

    def save_model(self, request, obj, form, change):

        text = form.cleaned_data.get("text", "").strip()
        if not text:
            return
        try:
            review_edit(
                project=obj.project, trace_id=obj.pk, text=text, actor_id=f"admin:{request.user.get_username()}"
            )
        except ApplicationError as exc:
            self.message_user(request, f"Not saved: {exc.message}", level=messages.ERROR)
            raise NotSaved from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except NotSaved:
            return HttpResponseRedirect(request.get_full_path())
