-- {{TEXT}} is a byte-ordered text type on every engine, so ids sort (and
-- state hashes come out) the same on SQLite and PostgreSQL whatever the locale.
-- The event log: the only source of truth.
CREATE TABLE events (
    node    {{TEXT}}     NOT NULL,
    seq     BIGINT   NOT NULL,
    hlc     BIGINT   NOT NULL,
    actor   {{TEXT}}     NOT NULL,
    kind    {{TEXT}}     NOT NULL,
    subject {{TEXT}}     NOT NULL,
    body    {{BLOB}} NOT NULL,
    prev    {{BLOB}},
    hash    {{BLOB}} NOT NULL,
    sig     {{BLOB}} NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX events_order ON events (hlc, node, seq);

-- Projections: rebuilt from the events at any time.
CREATE TABLE docs (
    kind {{TEXT}}     NOT NULL,
    id   {{TEXT}}     NOT NULL,
    data {{BLOB}} NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE idx (
    name {{TEXT}} NOT NULL,
    key  {{TEXT}} NOT NULL,
    id   {{TEXT}} NOT NULL,
    PRIMARY KEY (name, key, id)
);

-- Local to this node: never synced, not part of the projections.
CREATE TABLE local_docs (
    kind {{TEXT}}     NOT NULL,
    id   {{TEXT}}     NOT NULL,
    data {{BLOB}} NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE audit (
    id     {{AUTOID}},
    at     BIGINT NOT NULL,
    actor  {{TEXT}}   NOT NULL,
    action {{TEXT}}   NOT NULL,
    record {{TEXT}}   NOT NULL,
    detail {{TEXT}}   NOT NULL
);
CREATE INDEX audit_record ON audit (record);
