"""A merchant's products."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentMerchant, ServicesDep
from freshtap.server.api.schemas import ID_PATTERN, ProductCreate, ProductPublic
from freshtap.server.store.models import Product

router = APIRouter(prefix="/api/v1/products", tags=["merchant"])


def public(product: Product) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        merchant_id=product.merchant_id,
        gtin=product.gtin,
        name=product.name,
        category=product.category,
        price=Money(amount_minor=product.price_minor, currency=product.currency),
        foodkeeper_product_id=product.foodkeeper_product_id,
        created_at=product.created_at,
    )


@router.post("", status_code=201)
def create_product(data: ProductCreate, merchant: CurrentMerchant, services: ServicesDep) -> ProductPublic:
    return public(services.catalog.create_product(merchant.merchant_id, data))


@router.get("")
def list_products(
    merchant: CurrentMerchant,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ProductPublic]:
    return [public(p) for p in services.catalog.list_products(merchant.merchant_id, limit, offset)]


@router.get("/{product_id}")
def get_product(
    product_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    merchant: CurrentMerchant,
    services: ServicesDep,
) -> ProductPublic:
    return public(services.catalog.get_product(merchant.merchant_id, product_id))
