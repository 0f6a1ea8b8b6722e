from django.urls import path

from gateway import views

app_name = "gateway"

urlpatterns = [
    path("", views.models_view, name="models"),
    path("tokens/", views.token_create_view, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("<path:name>/", views.model_card_view, name="model_card"),
]
