from django.contrib.sitemaps import Sitemap
from django.urls import reverse
from django.utils.translation import override

from kb.models import Article, Category, Language


class ArticleSitemap(Sitemap):
    changefreq = "weekly"
    limit = 5000

    def items(self):
        return Article.objects.published().only("slug", "language", "updated_at").order_by("pk")

    def lastmod(self, article: Article):
        return article.updated_at


class CategorySitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        categories = list(Category.objects.only("slug").order_by("pk"))
        return [(category, language) for language in Language.values for category in categories]

    def location(self, item) -> str:
        category, language = item
        return category.get_absolute_url(language)


class HomeSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return Language.values

    def location(self, language: str) -> str:
        with override(language):
            return reverse("kb:home")


sitemaps = {"home": HomeSitemap, "categories": CategorySitemap, "articles": ArticleSitemap}
