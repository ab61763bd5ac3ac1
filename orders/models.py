import uuid
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    class EmailStatus(models.TextChoices):
        NOT_DUE = "not_due", "Not due"
        PENDING = "pending", "Not sent yet"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ConfirmationStatus = EmailStatus

    first_name = models.CharField(max_length=50)
    last_name = models.CharField(max_length=50)
    email = models.EmailField()
    address = models.CharField(max_length=250)
    postal_code = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # The customer's link to this order: unguessable, unlike the sequential id.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The checkout form's one-time key: submitting the same form twice places one order, not two.
    idempotency_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    # The confirmation email. The row, not the broker, remembers that it is owed: `queued_at` is set once
    # the task was handed to the broker, `claimed_at` while a worker sends it, `sent_at` once it went out.
    confirmation_status = models.CharField(
        max_length=20, choices=ConfirmationStatus.choices, default=ConfirmationStatus.PENDING
    )
    confirmation_queued_at = models.DateTimeField(null=True, blank=True)
    confirmation_claimed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmation_attempts = models.PositiveIntegerField(default=0)
    confirmation_error = models.TextField(blank=True)

    # The shipping notice, sent the same way once the order is marked shipped.
    shipping_status = models.CharField(max_length=20, choices=EmailStatus.choices, default=EmailStatus.NOT_DUE)
    shipping_queued_at = models.DateTimeField(null=True, blank=True)
    shipping_claimed_at = models.DateTimeField(null=True, blank=True)
    shipping_sent_at = models.DateTimeField(null=True, blank=True)
    shipping_attempts = models.PositiveIntegerField(default=0)
    shipping_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["-created"], name="order_created_idx"),
            models.Index(fields=["confirmation_status", "created"], name="order_confirmation_idx"),
            models.Index(fields=["shipping_status", "updated"], name="order_shipping_email_idx"),
        ]

    def __str__(self):
        return f"Order {self.number}"

    def get_absolute_url(self):
        return reverse("orders:order_detail", args=[self.token])

    @property
    def number(self):
        return str(self.id)

    @property
    def customer_name(self):
        return f"{self.first_name} {self.last_name}"

    def get_total_cost(self):
        return sum((item.get_cost() for item in self.items.all()), Decimal("0.00"))


class OrderItem(models.Model):
    order = models.ForeignKey(Order, related_name="items", on_delete=models.CASCADE)
    product = models.ForeignKey("shop.Product", related_name="order_items", on_delete=models.PROTECT)
    # The price at checkout, frozen: later catalog changes never rewrite an order.
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="orderitem_quantity_positive"),
            models.UniqueConstraint(fields=["order", "product"], name="orderitem_one_line_per_product"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product_id} in order {self.order_id}"

    def get_cost(self):
        return self.price * self.quantity
