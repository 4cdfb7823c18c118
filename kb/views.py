"""Public help-center pages: thin views over kb.selectors, kb.search and kb.services."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import http_date
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.client import client_key
from kb import selectors, services
from kb.feedback import FeedbackThrottle, remember_visitor, same_origin, visitor_key
from kb.forms import FeedbackForm, SearchForm
from kb.models import Article, Category
from kb.page_cache import cached_page
from kb.search import search

CATEGORY_PAGE_SIZE = 20


def _count_view(request: HttpRequest, meta: dict) -> None:
    if article_id := meta.get("article_id"):
        services.article_view_record(article_id=article_id)


@cached_page()
def home(request: HttpRequest) -> HttpResponse:
    language = get_language()
    return render(
        request,
        "kb/home.html",
        {
            "categories": selectors.categories_with_counts(language),
            "popular": selectors.popular_articles(language),
            "search_form": SearchForm(),
        },
    )


@cached_page()
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    language = get_language()
    category = get_object_or_404(Category.objects.select_related("parent"), slug=slug)
    page = Paginator(selectors.category_articles(category, language), CATEGORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    crumbs = [{"name": category.display_name, "url": None}]
    if category.parent:
        crumbs.insert(
            0, {"name": category.parent.display_name, "url": category.parent.get_absolute_url()}
        )
    return render(
        request,
        "kb/category.html",
        {
            "category": category,
            "crumbs": crumbs,
            "subcategories": selectors.subcategories(category, language),
            "page": page,
        },
    )


@cached_page(on_hit=_count_view)
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_for_page(slug)
    if article is None:
        raise Http404
    if not article.is_public and not request.user.has_perm("kb.view_article"):
        raise Http404  # drafts and archived articles do not exist for the public
    if article.language != get_language():
        return redirect(article.get_absolute_url(), permanent=True)
    services.article_view_record(article_id=article.pk)
    category = article.category
    crumbs = [{"name": category.display_name, "url": category.get_absolute_url()}]
    if category.parent:
        crumbs.insert(
            0, {"name": category.parent.display_name, "url": category.parent.get_absolute_url()}
        )
    translations = list(selectors.article_translations(article))
    response = render(
        request,
        "kb/article.html",
        {
            "article": article,
            "crumbs": crumbs,
            "language_links": _article_language_links(article, translations),
            "translations": translations,
            "related": selectors.related_articles(article),
            "feedback_form": FeedbackForm(),
            "feedback_sent": request.GET.get("feedback") == "sent",
            "canonical_url": settings.SITE_URL + article.get_absolute_url(),
        },
    )
    response["Last-Modified"] = http_date(article.updated_at.timestamp())
    response.cache_meta = {"article_id": article.pk}
    if not article.is_public:
        response["X-Robots-Tag"] = "noindex"
    return response


def search_page(request: HttpRequest) -> HttpResponse:
    language = get_language()
    form = SearchForm(request.GET or None)
    result = None
    if form.is_valid():
        query = form.cleaned_data["q"]
        scope = form.cleaned_data["scope"]
        result = search(query, language=None if scope == "all" else language, limit=20)
        if result.is_weak:
            services.search_gap_record(
                query=query,
                language=language,
                result_count=len(result),
                best_confidence=result.best_confidence,
                client_key=client_key(request),
            )
    crumbs = [{"name": _("Search"), "url": None}]
    return render(
        request, "kb/search.html", {"search_form": form, "result": result, "crumbs": crumbs}
    )


@csrf_exempt  # the form sits on cached pages; same_origin() is the CSRF check instead
@require_POST
def article_feedback(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.published(), slug=slug)
    if not same_origin(request):
        return HttpResponse(_("Cross-site form submission refused."), status=403)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please choose Yes or No."))
        return HttpResponseRedirect(article.get_absolute_url() + "#feedback")
    throttle = FeedbackThrottle()
    if not throttle.allow_request(request, None):
        return render(request, "kb/feedback_throttled.html", {"article": article}, status=429)
    key, new_cookie = visitor_key(request)
    services.feedback_record(
        article=article,
        visitor_key=key,
        helpful=form.cleaned_data["helpful"] == "yes",
        reason=form.cleaned_data["reason"],
    )
    response = HttpResponseRedirect(article.get_absolute_url() + "?feedback=sent#feedback")
    remember_visitor(response, new_cookie)
    return response


@cached_page()
def contact(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/contact.html", {"crumbs": [{"name": _("Contact us"), "url": None}]})


def _article_language_links(article: Article, translations: list[Article]) -> list[dict]:
    """Switching language on an article goes to its translation, or that language's home."""
    by_language = {other.language: other.get_absolute_url() for other in translations}
    by_language[article.language] = article.get_absolute_url()
    links = []
    for code, name in settings.LANGUAGES:
        with override(code):
            url = by_language.get(code) or reverse("kb:home")
        links.append({"code": code, "name": name, "url": url, "current": code == article.language})
    return links
