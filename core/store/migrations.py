"""Ordered schema migrations, applied by PRAGMA user_version."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the base schema
    """
    CREATE TABLE shops (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        channel TEXT NOT NULL,
        api_option INTEGER NOT NULL DEFAULT 0,
        last_success TEXT,
        license_expires TEXT,
        license_key_enc TEXT,
        license_key_pending_enc TEXT,
        license_warned_days INTEGER
    );
    CREATE TABLE orders (
        number TEXT PRIMARY KEY,
        shop TEXT NOT NULL,
        stage TEXT NOT NULL,
        progress INTEGER NOT NULL,
        snapshot TEXT NOT NULL,
        ordered_at TEXT NOT NULL,
        stage_since TEXT NOT NULL,
        flag_reason TEXT,
        error_key TEXT,
        error_code TEXT,
        error_message TEXT NOT NULL DEFAULT '',
        bundle_id TEXT,
        intended_fees TEXT,
        polling INTEGER NOT NULL DEFAULT 0,
        next_poll_at TEXT,
        deadline_warned INTEGER NOT NULL DEFAULT 0,
        stuck_reported INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX orders_shop_stage ON orders (shop, stage);
    CREATE INDEX orders_poll ON orders (shop, polling, next_poll_at);
    -- The once-only guarantee lives here: one intent per order number, ever.
    CREATE TABLE intents (
        order_number TEXT PRIMARY KEY,
        shop TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,            -- 'bot' (we send confirmOrder) or 'rms' (adopted)
        state TEXT NOT NULL,             -- pending | confirmed | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        result_code TEXT,
        result_message TEXT
    );
    CREATE INDEX intents_state ON intents (shop, state);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        shop TEXT NOT NULL,
        kind TEXT NOT NULL,
        order_number TEXT,
        at TEXT NOT NULL,
        data TEXT NOT NULL,
        posted_at TEXT,
        post_ref TEXT
    );
    CREATE INDEX outbox_unposted ON outbox (posted_at, id);
    CREATE INDEX outbox_at ON outbox (shop, at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        shop TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        order_number TEXT,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_at ON audit (shop, at);
    CREATE TABLE bundles (
        id TEXT PRIMARY KEY,
        shop TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE fee_requests (
        order_number TEXT PRIMARY KEY,
        state TEXT NOT NULL,             -- running | done | failed
        actor TEXT NOT NULL,
        fees TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        job TEXT NOT NULL,
        period TEXT NOT NULL,
        done_at TEXT NOT NULL,
        PRIMARY KEY (job, period)
    );
    CREATE TABLE refs (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: daily summary and App Home aggregates stay index-only at 1M orders (core/summary.py)
    """
    CREATE INDEX orders_stage_since ON orders (shop, stage, stage_since);
    CREATE INDEX orders_created ON orders (shop, created_at);
    """,
    # sec-privacy: 3: minimal snapshots (core/store/codec.py) for rows written before them, and
    # an index of exactly the finished orders that still hold personal data (the daily purge of
    # core/retention.py reads only these; its WHERE must repeat this one word for word)
    """
    UPDATE orders SET snapshot = json_set(
        json_remove(snapshot, '$.raw', '$.orderer.address.zip_code', '$.orderer.address.city',
                    '$.orderer.address.sub_address'),
        '$.packages',
        json((SELECT json_group_array(json(json_remove(p.value, '$.recipient.phone')))
              FROM json_each(orders.snapshot, '$.packages') AS p)))
    WHERE json_type(snapshot, '$.raw') IS NOT NULL;
    CREATE INDEX orders_personal ON orders (stage_since)
        WHERE stage IN ('processed', 'cancelled') AND json_type(snapshot, '$.orderer') IS NOT NULL;
    """,
    # 4: requests stored before ack; versioned orders (compare-and-set); the request
    # that claimed an intent (a resumed request recognises its own confirmations).
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,              -- confirm | refetch | fee
        shop TEXT NOT NULL,
        numbers TEXT NOT NULL,           -- JSON list of order numbers, or "all"
        actor TEXT NOT NULL,
        channel TEXT NOT NULL DEFAULT '',
        thread_ts TEXT,
        response_url TEXT,
        payload TEXT NOT NULL DEFAULT '{}',
        delivery_key TEXT NOT NULL UNIQUE, -- Slack's retry key: a redelivery finds this row
        open_key TEXT,                   -- the same intent while unfinished (double clicks)
        state TEXT NOT NULL,             -- queued | running | done
        attempts INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        result TEXT
    );
    CREATE UNIQUE INDEX requests_open_key ON requests (open_key) WHERE state != 'done';
    CREATE INDEX requests_state ON requests (state, id);
    ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE intents ADD COLUMN request_id INTEGER;
    ALTER TABLE fee_requests ADD COLUMN request_id INTEGER;
    """,
    # 5: per-message delivery. An event is ``planned`` once its
    # cards/alerts are messages; ``posted_at`` now says it went into a digest message. A
    # message is one Slack post (and its thread), delivered, retried or dead-lettered alone.
    """
    ALTER TABLE outbox ADD COLUMN planned_at TEXT;
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,        -- e.g. card:{order}, summary:{day}:{channel}
        shop TEXT NOT NULL,              -- '' for messages of no one shop
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,           -- JSON: {"messages": [Block Kit…], "refs": [names]}
        state TEXT NOT NULL,             -- pending | posted | dead
        version INTEGER NOT NULL DEFAULT 1,         -- bumped by every update of the payload
        posted_version INTEGER NOT NULL DEFAULT 0,  -- the version Slack shows
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        posting_at TEXT,                 -- a post began; its outcome is not known yet
        ts TEXT,                         -- Slack ts of the main message once posted
        parts_posted INTEGER NOT NULL DEFAULT 0,    -- main message + thread replies done
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX messages_due ON messages (state, next_attempt_at);
    """,
    # 6: the leader lease. One row per job group; ``expires_at`` is the database's clock in
    # milliseconds since 1970 (BIGINT: exact on both engines), so replica clocks never enter.
    # The epoch only grows: it is the fence every leader-only unit of work checks.
    """
    CREATE TABLE leader_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    """,
)
