"""The product catalogue, sold by the case (or pound, gallon, …)."""

from tortoise import fields
from tortoise.models import Model

from app.domain.enums import ProductCategory, ProductUnit
from app.models.base import created_at, money, updated_at


class Product(Model):
    id = fields.IntField(primary_key=True)
    sku = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    category = fields.CharEnumField(ProductCategory, max_length=32)
    unit = fields.CharEnumField(ProductUnit, max_length=16, default=ProductUnit.CASE)
    unit_price = money()
    description = fields.TextField(default="")
    is_active = fields.BooleanField(default=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        table = "products"
