"""Merchants' products and replenishment offers."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.api.schemas import OfferCreate, ProductCreate
from freshtap.server.domain.errors import Conflict, NotFound
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Offer, Product
from freshtap.shelflife import product_by_id

__all__ = ["CatalogService"]


class CatalogService:
    def __init__(self, sessions: Callable[[], Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def create_product(self, merchant_id: str, data: ProductCreate) -> Product:
        if data.foodkeeper_product_id is not None and product_by_id(data.foodkeeper_product_id) is None:
            raise NotFound(f"no FoodKeeper product {data.foodkeeper_product_id}")
        product = Product(
            id=new_id("prd"),
            merchant_id=merchant_id,
            gtin=data.gtin,
            name=data.name,
            category=data.category.lower(),
            price_minor=data.price.amount_minor,
            currency=data.price.currency,
            foodkeeper_product_id=data.foodkeeper_product_id,
            created_at=self._clock.now(),
        )
        with self._sessions() as session:
            session.add(product)
            try:
                session.commit()
            except IntegrityError:
                raise Conflict(f"you already have a product with GTIN {data.gtin}") from None
        return product

    def list_products(self, merchant_id: str, limit: int, offset: int) -> list[Product]:
        with self._sessions() as session:
            return list(
                session.exec(
                    select(Product)
                    .where(Product.merchant_id == merchant_id)
                    .order_by(col(Product.created_at), col(Product.id))
                    .offset(offset)
                    .limit(limit)
                ).all()
            )

    def get_product(self, merchant_id: str, product_id: str) -> Product:
        with self._sessions() as session:
            product = session.get(Product, product_id)
        if product is None or product.merchant_id != merchant_id:
            raise NotFound(f"no product {product_id}")
        return product

    def create_offer(self, merchant_id: str, data: OfferCreate) -> Offer:
        with self._sessions() as session:
            if data.product_id is not None:
                product = session.get(Product, data.product_id)
                if product is None or product.merchant_id != merchant_id:
                    raise NotFound(f"no product {data.product_id}")
            else:
                product = session.exec(
                    select(Product).where(Product.merchant_id == merchant_id, Product.gtin == data.gtin)
                ).first()
                if product is None:
                    raise NotFound(f"you have no product with GTIN {data.gtin}; create it first")
            trigger = data.trigger
            match_foodkeeper = getattr(data.match, "foodkeeper_product_id", None)
            if match_foodkeeper is not None and product_by_id(match_foodkeeper) is None:
                raise NotFound(f"no FoodKeeper product {match_foodkeeper}")
            discount = data.discount
            offer = Offer(
                id=new_id("off"),
                merchant_id=merchant_id,
                product_id=product.id,
                match_gtin=data.match.gtin,
                match_category=data.match.category.lower() if data.match.category else None,
                trigger_kind=trigger.kind,
                trigger_within_hours=getattr(trigger, "within_hours", None),
                trigger_below=getattr(trigger, "below", None),
                price_minor=data.price.amount_minor if data.price else None,
                currency=data.price.currency if data.price else None,
                max_per_household_per_week=data.max_per_household_per_week,
                quiet_start=data.quiet_hours.start if data.quiet_hours else None,
                quiet_end=data.quiet_hours.end if data.quiet_hours else None,
                active=data.active,
                created_at=self._clock.now(),
                match_foodkeeper_id=match_foodkeeper,
                discount_percent=getattr(discount, "percent", None),
                discount_minor=getattr(discount, "amount_minor", None),
                valid_from=data.valid_from,
                valid_until=data.valid_until,
                cooldown_hours_after_dismissal=data.cooldown_hours_after_dismissal,
            )
            session.add(offer)
            session.commit()
        return offer

    def list_offers(self, merchant_id: str, limit: int, offset: int) -> list[Offer]:
        with self._sessions() as session:
            return list(
                session.exec(
                    select(Offer)
                    .where(Offer.merchant_id == merchant_id)
                    .order_by(col(Offer.created_at), col(Offer.id))
                    .offset(offset)
                    .limit(limit)
                ).all()
            )

    def get_offer(self, merchant_id: str, offer_id: str) -> Offer:
        with self._sessions() as session:
            offer = session.get(Offer, offer_id)
        if offer is None or offer.merchant_id != merchant_id:
            raise NotFound(f"no offer {offer_id}")
        return offer
