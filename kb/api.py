"""Public, read-only knowledge-base API (plus feedback). Thin: parse, call, serialize."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.client import client_key
from kb import answers, page_cache, selectors, services
from kb.feedback import FeedbackThrottle, remember_visitor, visitor_key
from kb.models import Article, Category, Language
from kb.search import search
from kb.search.engine import MAX_QUERY_LENGTH


class CategoryOut(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    name_zh_hans = serializers.CharField()

    class Meta:
        model = Category
        fields = [
            "slug",
            "name",
            "name_zh_hans",
            "description",
            "description_zh_hans",
            "parent",
            "position",
        ]


class ArticleListOut(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "summary", "language", "category", "url", "updated_at"]


class TranslationOut(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "language", "url"]


class ArticleDetailOut(ArticleListOut):
    body_html = serializers.CharField(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    questions = serializers.SerializerMethodField()
    translations = serializers.SerializerMethodField()
    related = serializers.SerializerMethodField()

    class Meta(ArticleListOut.Meta):
        fields = ArticleListOut.Meta.fields + [
            "body",
            "body_html",
            "tags",
            "questions",
            "translations",
            "related",
            "published_at",
            "helpful_count",
            "not_helpful_count",
        ]

    def get_questions(self, article: Article) -> list[str]:
        return [q.text for q in article.questions.all()]

    def get_translations(self, article: Article) -> list[dict]:
        return TranslationOut(selectors.article_translations(article), many=True).data

    def get_related(self, article: Article) -> list[dict]:
        return TranslationOut(selectors.related_articles(article), many=True).data


class CategoryListApi(generics.ListAPIView):
    """All categories, in display order."""

    serializer_class = CategoryOut
    pagination_class = None
    queryset = Category.objects.select_related("parent")


class ArticleListApi(generics.ListAPIView):
    """Published articles, filterable by category slug and language, paginated."""

    serializer_class = ArticleListOut

    class Filters(serializers.Serializer):
        category = serializers.SlugField(required=False)
        language = serializers.ChoiceField(choices=Language.choices, required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("category", str, description="Category slug"),
            OpenApiParameter("language", str, enum=Language.values),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.Filters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        articles = (
            Article.objects.published().for_list().order_by("category__position", "position", "pk")
        )
        if category := filters.validated_data.get("category"):
            articles = articles.filter(category__slug=category)
        if language := filters.validated_data.get("language"):
            articles = articles.filter(language=language)
        return articles


class ArticleDetailApi(generics.RetrieveAPIView):
    """One published article with its rendered body, questions, translations and related articles."""

    serializer_class = ArticleDetailOut
    lookup_field = "slug"
    queryset = (
        Article.objects.published().select_related("category").prefetch_related("tags", "questions")
    )


class SearchApi(APIView):
    """Full-text search in English and Chinese, with typo tolerance.

    ``snippet`` is HTML (escaped text, matched words in ``<mark>``); ``confidence`` in [0, 1]
    says how surely the hit answers the query. ``suggest=1`` is search-as-you-type: it does not
    count as a content gap, and ranks by meaning once the query is a phrase (three or more
    words or Chinese characters; ``score`` and ``confidence`` are then the cosine and the
    snippet is the summary), else by full-text search with the last word taken as unfinished.
    ``ranker`` says which ranking answered.
    """

    class Input(serializers.Serializer):
        q = serializers.CharField(max_length=MAX_QUERY_LENGTH, trim_whitespace=True)
        language = serializers.ChoiceField(choices=Language.choices, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=10)
        suggest = serializers.BooleanField(default=False)

    class HitOut(serializers.Serializer):
        slug = serializers.CharField()
        title = serializers.CharField()
        url = serializers.CharField()
        snippet = serializers.CharField()
        score = serializers.FloatField()
        confidence = serializers.FloatField()
        language = serializers.CharField()

    @extend_schema(
        parameters=[Input],
        responses=inline_serializer(
            "SearchResults",
            {
                "query": serializers.CharField(),
                "corrected_query": serializers.CharField(allow_null=True),
                "ranker": serializers.ChoiceField(choices=["semantic", "fulltext"]),
                "results": HitOut(many=True),
            },
        ),
    )
    def get(self, request):
        params = self.Input(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        # Search-as-you-type asks the same prefixes again and again: answers are cached until
        # the knowledge base changes (the page-cache generation) or for a minute.
        digest = hashlib.sha1(repr(sorted(data.items())).encode(), usedforsecurity=False)
        key = f"kb:search:{page_cache.generation()}:{digest.hexdigest()}"
        body = cache.get(key)
        if body is None:
            body = self._suggest(data) if data["suggest"] else self._search(data)
            cache.set(key, body, settings.KB_PAGE_CACHE_SECONDS)
        if body["_weak"] and not data["suggest"]:
            services.search_gap_record(
                query=data["q"],
                language=data.get("language"),
                result_count=len(body["results"]),
                best_confidence=body["_best"],
                client_key=client_key(request),
            )
        return Response({k: v for k, v in body.items() if not k.startswith("_")})

    def _search(self, data: dict) -> dict:
        result = search(data["q"], language=data.get("language"), limit=data["limit"])
        return {
            "query": result.query,
            "corrected_query": result.corrected_query,
            "ranker": "fulltext",
            "results": self.HitOut(result.hits, many=True).data,
            "_weak": result.is_weak,
            "_best": result.best_confidence,
        }

    def _suggest(self, data: dict) -> dict:
        query = " ".join(data["q"].split())
        found = answers.suggest(
            query, language=data.get("language"), limit=data["limit"], prefix=True
        )
        return {
            "query": query,
            "corrected_query": found.corrected_query,
            "ranker": found.ranker,
            "results": self.HitOut(found.hits, many=True).data,
            "_weak": False,  # suggestions are never content gaps
            "_best": 0.0,
        }


class FeedbackApi(APIView):
    """ "Was this helpful?": one vote per visitor per article (a new vote replaces the old one)."""

    throttle_classes = [FeedbackThrottle]

    class Input(serializers.Serializer):
        helpful = serializers.BooleanField()
        reason = serializers.CharField(
            max_length=1000, required=False, allow_blank=True, default=""
        )

    class Output(serializers.Serializer):
        helpful = serializers.BooleanField()
        created = serializers.BooleanField()
        helpful_count = serializers.IntegerField()
        not_helpful_count = serializers.IntegerField()

    @extend_schema(request=Input, responses={200: Output, 201: Output})
    def post(self, request, slug: str):
        article = get_object_or_404(Article.objects.published(), slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        key, new_cookie = visitor_key(request)
        feedback, created = services.feedback_record(
            article=article, visitor_key=key, **data.validated_data
        )
        article.refresh_from_db(fields=["helpful_count", "not_helpful_count"])
        response = Response(
            self.Output(
                {
                    "helpful": feedback.helpful,
                    "created": created,
                    "helpful_count": article.helpful_count,
                    "not_helpful_count": article.not_helpful_count,
                }
            ).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        remember_visitor(response, new_cookie)
        return response
