"""A small Django ORM / mysqlclient application, run by check.py once through shardgate and
once against a plain MariaDB schema. It uses Django in its default mode: autocommit on,
transaction.atomic() blocks for transactions, nested atomic() blocks as savepoints. Every
scenario records what the app observes (common.Transcript).
"""

import django
from django.conf import settings

from common import USERS, Transcript, app_args, mysql_errno

A = app_args(__doc__)
settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.mysql", "NAME": A.db, "USER": A.user,
                           "PASSWORD": A.password, "HOST": A.host, "PORT": A.port}},
    INSTALLED_APPS=[],
    USE_TZ=False,
)
django.setup()

from django.db import IntegrityError, connection, models, transaction  # noqa: E402
from django.db.models import F  # noqa: E402


class Order(models.Model):  # sharded by user_id; `id` is the model's key, ids are unique
    id = models.BigIntegerField(primary_key=True)
    user_id = models.BigIntegerField()
    status = models.CharField(max_length=16)
    amount = models.IntegerField()

    class Meta:
        app_label, db_table, managed = "ormcheck", "orders", False


class OrderItem(models.Model):  # sharded by user_id, bound to orders
    id = models.BigIntegerField(primary_key=True)
    user_id = models.BigIntegerField()
    order_id = models.BigIntegerField()
    sku = models.CharField(max_length=16)
    qty = models.IntegerField()

    class Meta:
        app_label, db_table, managed = "ormcheck", "order_items", False


class Currency(models.Model):  # broadcast
    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=32)

    class Meta:
        app_label, db_table, managed = "ormcheck", "currencies", False


class Audit(models.Model):  # unsharded (the schema's default shard)
    id = models.BigIntegerField(primary_key=True)
    note = models.CharField(max_length=64)

    class Meta:
        app_label, db_table, managed = "ormcheck", "audit", False


class AppError(Exception):
    pass


def orders_of(user):
    return list(Order.objects.filter(user_id=user).order_by("id").values_list("id", "status", "amount"))


def see_state(t, step):
    t.see(step, {u: orders_of(u) for u in USERS})


def new(user, id, amount, status="new"):
    return Order.objects.create(user_id=user, id=id, status=status, amount=amount)


def trace_connection(t):
    """Records every statement, and the commits, rollbacks and autocommit switches."""
    def traced(execute, sql, params, many, context):
        t.trace(f"{sql} {params}")
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            t.trace(f"  -> error {mysql_errno(exc)}: {exc}")
            raise

    connection.execute_wrappers.append(traced)
    connection.ensure_connection()
    for name in ("_commit", "_rollback", "_set_autocommit"):
        original = getattr(connection, name)
        setattr(connection, name, lambda *args, _o=original, _n=name: (t.trace(f"<{_n[1:]}{args}>"), _o(*args))[1])


def main():
    t = Transcript()
    trace_connection(t)

    with t.run("commit across shards", lambda: None):
        with transaction.atomic():
            Currency.objects.create(code="EUR", name="Euro")
            Currency.objects.create(code="USD", name="Dollar")
            Audit.objects.create(id=1, note="first")
            for u in USERS:
                new(u, 100 + u, 10 * u)
                OrderItem.objects.create(user_id=u, id=1000 + u, order_id=100 + u, sku=f"sku{u}", qty=u)
        see_state(t, "after commit")

    with t.run("rollback across shards", lambda: None):
        with transaction.atomic():
            new(1, 201, 1)
            new(2, 202, 2)
            Order.objects.filter(user_id=3, id=103).update(amount=333)
            Audit.objects.create(id=2, note="rolled back")
            see_state(t, "inside the transaction")
            transaction.set_rollback(True)
        see_state(t, "after rollback")
        t.see("audit after rollback", list(Audit.objects.order_by("id").values_list("id", flat=True)))

    with t.run("savepoints", lambda: None):
        with transaction.atomic():
            new(4, 301, 1)
            try:
                with transaction.atomic():  # s1 first joins the transaction inside this savepoint
                    new(2, 302, 2)
                    new(1, 305, 5)
                    raise AppError("inner failure")
            except AppError:
                pass
            new(3, 303, 3)
            try:
                with transaction.atomic():  # both shards are in the transaction now
                    Order.objects.filter(user_id=3, id=103).update(amount=999)
                    new(4, 306, 6)
                    raise AppError("inner failure")
            except AppError:
                pass
            with transaction.atomic():  # released, kept by the outer commit
                new(1, 304, 4)
                new(2, 307, 7)
        see_state(t, "after outer commit")

    with t.run("savepoint as the first statement", lambda: None):
        with transaction.atomic():
            try:
                with transaction.atomic():  # SAVEPOINT before any shard has run a statement
                    new(1, 601, 1)
                    new(2, 602, 2)
                    raise AppError("inner failure")
            except AppError:
                pass
            new(3, 603, 3)
        see_state(t, "after outer commit")

    with t.run("bulk insert", lambda: None):
        Order.objects.bulk_create([Order(user_id=u, id=400 + u, status="bulk", amount=40 + u) for u in (5, 6, 7, 8, 9, 10)])
        with transaction.atomic():
            OrderItem.objects.bulk_create([OrderItem(user_id=u, id=4000 + u, order_id=400 + u, sku="b", qty=1) for u in (5, 6, 7, 8)])
            OrderItem.objects.bulk_create([OrderItem(user_id=u, id=4100 + u, order_id=400 + u, sku="c", qty=2) for u in (9, 10, 11, 12)])
        t.see("items of users 5-12", [list(OrderItem.objects.filter(user_id=u).values_list("id", flat=True)) for u in range(5, 13)])

    with t.run("updates and deletes by key", lambda: None):
        t.see("update user 2 (autocommit)", Order.objects.filter(user_id=2, id=102).update(status="paid"))
        with transaction.atomic():
            t.see("update user 3", Order.objects.filter(user_id=3).update(status="shipped"))
            t.see("update users 1, 2", Order.objects.filter(user_id__in=[1, 2]).update(amount=F("amount") + 1))
            t.see("no-op update (found rows)", Order.objects.filter(user_id=4, id=104).update(status="new"))
            t.see("delete order 301", Order.objects.filter(user_id=4, id=301).delete())
            t.see("delete items of user 1", OrderItem.objects.filter(user_id=1).delete())
        see_state(t, "after commit")

    with t.run("reads", lambda: None):
        o = Order.objects.get(user_id=3, id=103)
        t.see("get by key", (o.user_id, o.id, o.status, o.amount))
        t.see("by key, ordered", orders_of(2))
        t.see("currencies", list(Currency.objects.order_by("code").values_list("code", "name")))
        t.attempt("scatter ORDER BY (autocommit)", lambda: list(Order.objects.order_by("-amount", "id").values_list("user_id", "id", "amount")))
        t.attempt("scatter COUNT", lambda: Order.objects.count())
        with transaction.atomic():
            t.see("by key in atomic", orders_of(3))
            t.attempt("scatter ORDER BY in atomic", lambda: list(Order.objects.order_by("-amount", "id").values_list("user_id", "id", "amount")))

    with t.run("select for update", lambda: None):
        with transaction.atomic():
            a3 = Order.objects.select_for_update().get(user_id=3, id=103)
            a4 = Order.objects.select_for_update().get(user_id=4, id=104)
            Order.objects.filter(user_id=3, id=103).update(amount=a3.amount - 5)
            Order.objects.filter(user_id=4, id=104).update(amount=a4.amount + 5)
        see_state(t, "after commit")

    with t.run("exception in the app", lambda: None):
        try:
            with transaction.atomic():
                new(1, 501, 1)
                new(3, 503, 3)
                raise ValueError("payment declined")
        except ValueError as exc:
            t.see("app exception", str(exc))
        see_state(t, "after the failed transaction")

    with t.run("duplicate key", lambda: None):
        with transaction.atomic():
            new(4, 502, 1)
            try:
                with transaction.atomic():  # the classic "try to insert, keep going" pattern
                    new(2, 102, 0, status="dup")
            except IntegrityError as exc:
                t.see_error("duplicate insert in a savepoint", exc)
            new(3, 504, 4)
        try:
            with transaction.atomic():
                new(1, 505, 5)
                new(2, 102, 0, status="dup")
        except IntegrityError as exc:
            t.see_error("duplicate insert", exc)
        see_state(t, "after both")

    connection.close()
    t.write(A.out)


if __name__ == "__main__":
    main()
