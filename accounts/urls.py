from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("orders/", views.order_history, name="orders"),
    path("orders/<str:number>/reorder/", views.reorder, name="reorder"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/new/", views.address_edit, name="address_add"),
    path("addresses/<int:address_id>/", views.address_edit, name="address_edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete, name="address_delete"),
]
