from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("create/", views.order_create, name="order_create"),
    path("created/", views.thank_you, name="thank_you"),
    path("<uuid:token>/", views.order_detail, name="order_detail"),
]
