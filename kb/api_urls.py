from django.urls import path

from kb import api

app_name = "kb-api"

urlpatterns = [
    path("categories/", api.CategoryListApi.as_view(), name="categories"),
    path("articles/", api.ArticleListApi.as_view(), name="articles"),
    path("articles/<slug:slug>/", api.ArticleDetailApi.as_view(), name="article"),
    path("articles/<slug:slug>/feedback/", api.FeedbackApi.as_view(), name="feedback"),
    path("search/", api.SearchApi.as_view(), name="search"),
]
