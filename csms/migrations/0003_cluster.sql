-- Several server processes (and hosts) sharing one database: which process holds each
-- charger's connection, which processes are alive, and commands relayed between them.

CREATE TABLE nodes (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE charge_points ADD COLUMN connected_node text;

-- A command for a charger connected to another process: written by the process that got
-- the API request, executed by the one holding the connection (woken by NOTIFY), answered
-- in the same row.
CREATE TABLE command_relay (
    id               uuid PRIMARY KEY,
    node             text NOT NULL,
    charge_point_id  text NOT NULL,
    command          text NOT NULL,
    body             jsonb NOT NULL,
    outcome          jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
