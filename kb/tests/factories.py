import factory

from kb import services
from kb.models import Article, Category, Language


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Category {n}")
    name_zh_hans = factory.Sequence(lambda n: f"分类{n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ArticleFactory(factory.django.DjangoModelFactory):
    """Articles are saved through kb.services.article_save, so they are rendered, indexed and
    have a revision, exactly like articles edited in admin."""

    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article number {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    language = Language.EN
    category = factory.SubFactory(CategoryFactory)
    summary = ""
    body = "Some body text."
    status = Article.Status.PUBLISHED

    @classmethod
    def _create(cls, model_class, *args, questions=(), tags=(), translation_of=None, **kwargs):
        article = model_class(*args, **kwargs)
        return services.article_save(
            article=article,
            questions=list(questions),
            tags=list(tags),
            translation_of=translation_of,
        )
