"""A small SQLAlchemy 2 / PyMySQL application, run by check.py once through shardgate and once
against a plain MariaDB schema. It uses the ORM in its default mode: the DBAPI connection runs
with autocommit=0, the Session begins transactions by itself and the app ends them with
commit() / rollback(); begin_nested() makes savepoints. Every scenario records what the app
observes (common.Transcript).
"""

from sqlalchemy import BigInteger, Integer, String, create_engine, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from common import USERS, Transcript, app_args, mysql_errno


class Base(DeclarativeBase):
    pass


class Order(Base):  # sharded by user_id
    __tablename__ = "orders"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)


class OrderItem(Base):  # sharded by user_id, bound to orders
    __tablename__ = "order_items"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger)
    sku: Mapped[str] = mapped_column(String(16))
    qty: Mapped[int] = mapped_column(Integer)


class Currency(Base):  # broadcast
    __tablename__ = "currencies"
    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))


class Audit(Base):  # unsharded (the schema's default shard)
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(String(64))


def orders_of(s, user):
    """The user's orders, read by key (one sub-table, so also allowed inside a transaction)."""
    q = select(Order.id, Order.status, Order.amount).where(Order.user_id == user).order_by(Order.id)
    return [tuple(r) for r in s.execute(q)]


def see_state(t, s, step):
    t.see(step, {u: orders_of(s, u) for u in USERS})


def main():
    a = app_args(__doc__)
    t = Transcript()
    engine = create_engine(f"mysql+pymysql://{a.user}:{a.password}@{a.host}:{a.port}/{a.db}")
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, params, ctx, many: t.trace(f"{stmt} {params}"))
    event.listen(engine, "handle_error", lambda ctx: t.trace(f"  -> error {mysql_errno(ctx.original_exception)}: {ctx.original_exception}"))
    for name in ("commit", "rollback"):  # DBAPI calls; savepoints go through the cursor
        event.listen(engine, name, lambda *args, _n=name: t.trace(f"<{_n}>"))
    s = Session(engine)

    with t.run("commit across shards", s.rollback):
        s.add_all([Currency(code="EUR", name="Euro"), Currency(code="USD", name="Dollar"), Audit(id=1, note="first")])
        s.add_all([Order(user_id=u, id=100 + u, status="new", amount=10 * u) for u in USERS])
        s.add_all([OrderItem(user_id=u, id=1000 + u, order_id=100 + u, sku=f"sku{u}", qty=u) for u in USERS])
        s.commit()
        see_state(t, s, "after commit")
        s.commit()

    with t.run("rollback across shards", s.rollback):
        s.add_all([Order(user_id=1, id=201, status="new", amount=1), Order(user_id=2, id=202, status="new", amount=2)])
        s.get(Order, (3, 103)).amount = 333
        s.add(Audit(id=2, note="rolled back"))
        s.flush()
        see_state(t, s, "inside the transaction")
        s.rollback()
        see_state(t, s, "after rollback")
        t.see("audit after rollback", s.scalars(select(Audit.id).order_by(Audit.id)).all())
        s.commit()

    with t.run("savepoints", s.rollback):
        s.add(Order(user_id=4, id=301, status="new", amount=1))
        s.flush()
        sp = s.begin_nested()  # s1 first joins the transaction inside this savepoint
        s.add_all([Order(user_id=2, id=302, status="new", amount=2), Order(user_id=1, id=305, status="new", amount=5)])
        s.flush()
        sp.rollback()
        s.add(Order(user_id=3, id=303, status="new", amount=3))
        s.flush()
        sp = s.begin_nested()  # both shards are in the transaction now
        s.get(Order, (3, 103)).amount = 999
        s.add(Order(user_id=4, id=306, status="new", amount=6))
        s.flush()
        sp.rollback()
        with s.begin_nested():  # released, kept by the outer commit
            s.add_all([Order(user_id=1, id=304, status="new", amount=4), Order(user_id=2, id=307, status="new", amount=7)])
        s.commit()
        see_state(t, s, "after outer commit")
        s.commit()

    with t.run("savepoint as the first statement", s.rollback):
        sp = s.begin_nested()  # SAVEPOINT before any shard has run a statement of the transaction
        s.add_all([Order(user_id=1, id=601, status="new", amount=1), Order(user_id=2, id=602, status="new", amount=2)])
        s.flush()
        sp.rollback()
        s.add(Order(user_id=3, id=603, status="new", amount=3))
        s.commit()
        see_state(t, s, "after outer commit")
        s.commit()

    with t.run("bulk insert", s.rollback):
        s.add_all([Order(user_id=u, id=400 + u, status="bulk", amount=40 + u) for u in (5, 6, 7, 8, 9, 10)])
        s.bulk_insert_mappings(OrderItem, [dict(user_id=u, id=4000 + u, order_id=400 + u, sku="b", qty=1) for u in (5, 6, 7, 8)])
        s.execute(insert(OrderItem), [dict(user_id=u, id=4100 + u, order_id=400 + u, sku="c", qty=2) for u in (9, 10, 11, 12)])
        s.commit()
        t.see("items of users 5-12", [s.scalars(select(OrderItem.id).where(OrderItem.user_id == u)).all() for u in range(5, 13)])
        s.commit()

    with t.run("updates and deletes by key", s.rollback):
        s.get(Order, (2, 102)).status = "paid"  # unit of work: UPDATE ... WHERE user_id = 2 AND id = 102
        s.flush()
        t.see("update user 3", s.execute(update(Order).where(Order.user_id == 3).values(status="shipped")).rowcount)
        t.see("update users 1, 2", s.execute(update(Order).where(Order.user_id.in_([1, 2])).values(amount=Order.amount + 1)).rowcount)
        t.see("no-op update (found rows)", s.execute(update(Order).where(Order.user_id == 4, Order.id == 104).values(status="new")).rowcount)
        s.delete(s.get(Order, (4, 301)))
        t.see("delete items of user 1", s.execute(delete(OrderItem).where(OrderItem.user_id == 1)).rowcount)
        s.commit()
        see_state(t, s, "after commit")
        s.commit()

    with t.run("reads", s.rollback):
        o = s.get(Order, (3, 103))
        t.see("get by key", (o.user_id, o.id, o.status, o.amount))
        t.see("by key, ordered", orders_of(s, 2))
        t.see("join on key", [tuple(r) for r in s.execute(
            select(Order.id, OrderItem.sku).join(OrderItem, (OrderItem.user_id == Order.user_id) & (OrderItem.order_id == Order.id))
            .where(Order.user_id == 2).order_by(Order.id, OrderItem.sku))])
        t.see("currencies", [tuple(r) for r in s.execute(select(Currency.code, Currency.name).order_by(Currency.code))])
        s.commit()
        t.attempt("scatter ORDER BY (first statement of a transaction)", lambda: [tuple(r) for r in s.execute(
            select(Order.user_id, Order.id, Order.amount).order_by(Order.amount.desc(), Order.id))])
        t.attempt("scatter COUNT", lambda: s.scalar(select(func.count()).select_from(Order)))
        s.commit()

    with t.run("select for update", s.rollback):
        a3 = s.scalars(select(Order).where(Order.user_id == 3, Order.id == 103).with_for_update()).one()
        a4 = s.scalars(select(Order).where(Order.user_id == 4, Order.id == 104).with_for_update()).one()
        a3.amount, a4.amount = a3.amount - 5, a4.amount + 5
        s.commit()
        see_state(t, s, "after commit")
        s.commit()

    with t.run("exception in the app", s.rollback):
        try:
            with Session(engine) as s2, s2.begin():  # the documented "begin once" pattern
                s2.add_all([Order(user_id=1, id=501, status="new", amount=1), Order(user_id=3, id=503, status="new", amount=3)])
                s2.flush()
                raise ValueError("payment declined")
        except ValueError as exc:
            t.see("app exception", str(exc))
        see_state(t, s, "after the failed transaction")
        s.commit()

    with t.run("duplicate key", s.rollback):
        s.add(Order(user_id=4, id=502, status="new", amount=1))
        s.flush()
        s.add(Order(user_id=2, id=102, status="dup", amount=0))
        try:
            s.flush()
        except IntegrityError as exc:
            t.see_error("duplicate insert", exc)
            s.rollback()
        see_state(t, s, "after rollback")
        s.commit()

    s.close()
    engine.dispose()
    t.write(a.out)


if __name__ == "__main__":
    main()
