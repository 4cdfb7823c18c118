"""Knowledge-base admin: managers edit, agents read. Writes go through kb.services."""

import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kb import services
from kb.models import Article, ArticleFeedback, ArticleQuestion, Category, Revision, SearchGap, Tag
from kb.rendering import render_markdown

admin.site.site_header = _("HelpCenter administration")
admin.site.site_title = _("HelpCenter")
admin.site.index_title = _("Help desk")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh_hans", "slug", "parent", "position"]
    list_editable = ["position"]
    list_select_related = ["parent"]
    search_fields = ["name", "name_zh_hans", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["position", "name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.category_record_change()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.category_record_change()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.category_record_change()


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class ArticleQuestionInline(admin.TabularInline):
    model = ArticleQuestion
    extra = 2
    fields = ["text", "position"]
    verbose_name = _("alternate question")
    verbose_name_plural = _("Alternate questions (how customers ask it)")


class ArticleAdminForm(forms.ModelForm):
    tag_names = forms.CharField(
        label=_("Tags"),
        required=False,
        help_text=_("Comma-separated; new tags are created."),
    )
    translation_of = forms.ModelChoiceField(
        label=_("Translation of"),
        queryset=Article.objects.only("id", "title", "language").order_by("language", "title"),
        required=False,
        help_text=_("Link this article to the same article in another language."),
    )

    class Meta:
        model = Article
        fields = [
            "title",
            "slug",
            "language",
            "category",
            "status",
            "summary",
            "body",
            "related",
            "position",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 22, "class": "kb-markdown"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        article = self.instance
        if article.pk:
            self.fields["tag_names"].initial = ", ".join(t.name for t in article.tags.all())
            self.fields["translation_of"].queryset = self.fields["translation_of"].queryset.exclude(
                pk=article.pk
            )
            self.fields["translation_of"].initial = (
                Article.objects.filter(translation_group=article.translation_group)
                .exclude(pk=article.pk)
                .first()
            )

    def clean(self):
        cleaned = super().clean()
        other = cleaned.get("translation_of")
        if other is not None:
            if other.language == cleaned.get("language"):
                raise ValidationError(
                    {"translation_of": _("A translation must be in another language.")}
                )
            # Set before model validation, so the one-translation-per-language rule is checked.
            self.instance.translation_group = other.translation_group
        return cleaned

    def _get_validation_exclusions(self):
        # translation_group is not a form field, but the model's one-translation-per-language
        # constraint must still be checked when "Translation of" sets it.
        exclusions = super()._get_validation_exclusions()
        exclusions.discard("translation_group")
        return exclusions

    def clean_tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tag_names"].split(",") if t.strip()]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    inlines = [ArticleQuestionInline]
    list_display = [
        "title",
        "language",
        "category",
        "status_badge",
        "position",
        "updated_at",
        "view_count",
        "helpfulness",
    ]
    list_editable = ["position"]  # order of articles within a category
    list_filter = ["status", "language", "category"]
    list_select_related = ["category"]
    search_fields = ["title", "slug", "summary", "questions__text"]
    ordering = ["category__position", "position", "title"]
    date_hierarchy = "updated_at"
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["related"]
    actions = ["publish", "unpublish", "archive"]
    readonly_fields = [
        "author",
        "created_at",
        "updated_at",
        "published_at",
        "view_count",
        "helpful_count",
        "not_helpful_count",
        "public_link",
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "language", "translation_of", "category", "status"]}),
        (_("Content"), {"fields": ["summary", "body"]}),
        (_("Discovery"), {"fields": ["tag_names", "related", "position"]}),
        (
            _("Statistics"),
            {
                "classes": ["collapse"],
                "fields": [
                    "public_link",
                    "author",
                    "created_at",
                    "updated_at",
                    "published_at",
                    "view_count",
                    "helpful_count",
                    "not_helpful_count",
                ],
            },
        ),
    ]
    change_form_template = "admin/kb/article/change_form.html"

    class Media:
        css = {"all": ["kb/admin.css"]}
        js = ["kb/admin-preview.js"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.has_change_permission(request, obj):
            # Read-only users see the model's fields; the form-only fields do not exist for them.
            fieldsets = [
                (
                    name,
                    {
                        **opts,
                        "fields": [
                            f for f in opts["fields"] if f not in ("tag_names", "translation_of")
                        ],
                    },
                )
                for name, opts in fieldsets
            ]
        return fieldsets

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, article: Article) -> str:
        return format_html(
            '<span class="kb-status kb-status--{}">{}</span>',
            article.status,
            article.get_status_display(),
        )

    @admin.display(description=_("Helpful"))
    def helpfulness(self, article: Article) -> str:
        votes = article.helpful_count + article.not_helpful_count
        if not votes:
            return "–"
        return f"{round(100 * article.helpful_count / votes)}% ({votes})"

    @admin.display(description=_("On the site"))
    def public_link(self, article: Article) -> str:
        if not article.pk:
            return "–"
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener">{0}</a>', article.get_absolute_url()
        )

    # --- saving through the services -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:
            obj.author = request.user
        services.article_prepare(obj)
        obj.save()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        article = form.instance
        services.article_tags_set(article=article, tags=form.cleaned_data.get("tag_names", []))
        services.article_record_change(article=article, author=request.user)

    def delete_model(self, request, obj):
        services.articles_delete(articles=[obj])

    def delete_queryset(self, request, queryset):
        services.articles_delete(articles=list(queryset))

    # --- bulk actions ----------------------------------------------------------------------

    def _set_status(self, request, queryset: QuerySet, status: str, done: str) -> None:
        changed = services.articles_set_status(
            articles=queryset, status=status, author=request.user
        )
        self.message_user(request, done % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Publish selected articles"), permissions=["change"])
    def publish(self, request, queryset):
        self._set_status(
            request, queryset, Article.Status.PUBLISHED, _("%(count)d article(s) published.")
        )

    @admin.action(
        description=_("Unpublish selected articles (back to draft)"), permissions=["change"]
    )
    def unpublish(self, request, queryset):
        self._set_status(
            request, queryset, Article.Status.DRAFT, _("%(count)d article(s) unpublished.")
        )

    @admin.action(description=_("Archive selected articles"), permissions=["change"])
    def archive(self, request, queryset):
        self._set_status(
            request, queryset, Article.Status.ARCHIVED, _("%(count)d article(s) archived.")
        )

    # --- preview and revisions -------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="kb_article_preview"),
            path(
                "<int:article_id>/revisions/",
                view(self.revisions_view),
                name="kb_article_revisions",
            ),
            path(
                "<int:article_id>/revisions/<int:number>/",
                view(self.revision_view),
                name="kb_article_revision",
            ),
            path(
                "<int:article_id>/revisions/<int:number>/restore/",
                view(self.restore_view),
                name="kb_article_revision_restore",
            ),
        ] + super().get_urls()

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Rendered, sanitized HTML of the Markdown being edited (the live preview)."""
        if request.method != "POST":
            return JsonResponse({"detail": "POST the Markdown as 'body'."}, status=405)
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        body = request.POST.get("body", "")
        if len(body) > 200_000:
            return JsonResponse({"detail": "The article is too long to preview."}, status=400)
        return JsonResponse({"html": render_markdown(body)})

    def _article_or_404(self, request, article_id: int) -> Article:
        article = get_object_or_404(Article, pk=article_id)
        if not self.has_view_or_change_permission(request, article):
            raise PermissionDenied
        return article

    def revisions_view(self, request: HttpRequest, article_id: int) -> HttpResponse:
        article = self._article_or_404(request, article_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "article": article,
            "revisions": article.revisions.select_related("author"),
            "title": _("Revisions of “%(title)s”") % {"title": article.title},
            "can_restore": self.has_change_permission(request, article),
        }
        return TemplateResponse(request, "admin/kb/article/revisions.html", context)

    def revision_view(self, request: HttpRequest, article_id: int, number: int) -> HttpResponse:
        article = self._article_or_404(request, article_id)
        revision = get_object_or_404(
            Revision.objects.select_related("author"), article=article, number=number
        )
        diff = difflib.unified_diff(
            revision.body.splitlines(),
            article.body.splitlines(),
            fromfile=str(_("revision %(number)s") % {"number": number}),
            tofile=str(_("current")),
            lineterm="",
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "article": article,
            "revision": revision,
            "diff": "\n".join(diff),
            "title": _("Revision %(number)s of “%(title)s”")
            % {"number": number, "title": article.title},
            "can_restore": self.has_change_permission(request, article),
        }
        return TemplateResponse(request, "admin/kb/article/revision.html", context)

    def restore_view(self, request: HttpRequest, article_id: int, number: int) -> HttpResponse:
        return require_POST(self._restore)(request, article_id, number)

    def _restore(self, request: HttpRequest, article_id: int, number: int) -> HttpResponse:
        article = get_object_or_404(Article, pk=article_id)
        if not self.has_change_permission(request, article):
            raise PermissionDenied
        revision = get_object_or_404(Revision, article=article, number=number)
        try:
            with transaction.atomic():
                services.revision_restore(revision=revision, author=request.user)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request, _("Revision %(number)s restored.") % {"number": number}, messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:kb_article_change", args=[article.pk]))


@admin.register(SearchGap)
class SearchGapAdmin(admin.ModelAdmin):
    list_display = [
        "query",
        "language",
        "count",
        "result_count",
        "best_confidence",
        "last_seen",
        "resolved",
        "try_it",
    ]
    list_filter = ["resolved", "language"]
    search_fields = ["query"]
    ordering = ["resolved", "-count", "-last_seen"]
    readonly_fields = [
        "query",
        "language",
        "count",
        "result_count",
        "best_confidence",
        "first_seen",
        "last_seen",
    ]
    actions = ["mark_resolved"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Search"))
    def try_it(self, gap: SearchGap) -> str:
        from django.utils.http import urlencode
        from django.utils.translation import override

        with override(gap.language):
            url = reverse("kb:search") + "?" + urlencode({"q": gap.query})
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Search now")
        )

    @admin.action(
        description=_("Mark as resolved (an article now answers it)"), permissions=["change"]
    )
    def mark_resolved(self, request, queryset):
        updated = queryset.update(resolved=True)
        self.message_user(request, _("%(count)d gap(s) marked resolved.") % {"count": updated})


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "reason", "updated_at"]
    list_filter = ["helpful", "article__language"]
    list_select_related = ["article"]
    search_fields = ["article__title", "reason"]
    readonly_fields = ["article", "visitor_key", "helpful", "reason", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
