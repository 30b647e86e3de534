"""The product catalogue: managers and admins maintain it, everyone reads it."""

from __future__ import annotations

from app.domain.enums import Role
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed
from app.domain.events import ProductCreated, ProductDeleted, ProductUpdated
from app.models import OpportunityProduct, Product
from app.queries.visibility import Scope
from app.services.changelog import recorded_change
from app.services.common import Checks, assign, strip_text
from app.services.events import columns

PRODUCT_FIELDS = {"sku", "name", "category", "unit", "unit_price", "description", "is_active"}


def _require_catalog_editor(scope: Scope) -> None:
    if scope.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied("only managers and admins maintain the product catalogue")


async def _save_product(product: Product, data: dict, *, creating: bool, actor_id: int) -> Product:
    strip_text(data, "sku", "name")
    checks = Checks()
    checks.required_text(data, "sku", required=creating)
    checks.required_text(data, "name", required=creating)
    checks.money(data, "unit_price")
    if creating and data.get("unit_price") is None:
        checks.add("unit_price", "is required", ErrorCode.REQUIRED)
    if data.get("sku"):
        clash = Product.filter(sku=data["sku"])
        if product.id is not None:
            clash = clash.exclude(id=product.id)
        if await clash.exists():
            checks.add("sku", "a product with this SKU exists", ErrorCode.DUPLICATE)
    checks.raise_if_any()
    before = None if creating else columns(product)
    assign(product, data, PRODUCT_FIELDS)
    async with recorded_change() as outbox:
        await product.save()
        await outbox.record((ProductCreated if creating else ProductUpdated)(product_id=product.id), actor_id=actor_id,
                            resource=product, before=before)
    return product


async def create_product(scope: Scope, data: dict) -> Product:
    _require_catalog_editor(scope)
    return await _save_product(Product(), data, creating=True, actor_id=scope.user_id)


async def update_product(scope: Scope, product_id: int, data: dict) -> Product:
    _require_catalog_editor(scope)
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise ValidationFailed.single("id", "product not found", ErrorCode.NOT_FOUND)
    return await _save_product(product, data, creating=False, actor_id=scope.user_id)


async def delete_product(scope: Scope, product_id: int) -> int:
    _require_catalog_editor(scope)
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise ValidationFailed.single("id", "product not found", ErrorCode.NOT_FOUND)
    if await OpportunityProduct.exists(product_id=product_id):
        raise ValidationFailed.single(
            "id", "the product is on opportunities; deactivate it instead", ErrorCode.IN_USE
        )
    async with recorded_change() as outbox:
        await product.delete()
        await outbox.record(ProductDeleted(product_id=product_id), actor_id=scope.user_id, resource=product)
    return product_id
