-- Demo runs %(first)s .. %(last)s (inclusive), generated in the database.
--
-- Every value derives from md5(seed || ':' || n), so the same seed, anchor
-- and user set give byte-for-byte the same rows, and a million rows are one
-- set-based INSERT per batch instead of a million round trips.
-- %(users)s is the demo users' ids in a fixed order, with their plans'
-- retention hours in %(retention)s; %(tools)s, %(tool_names)s and
-- %(costs)s describe the catalog.
WITH params AS (
    SELECT %(anchor)s::timestamptz AS anchor,
           %(users)s::uuid[] AS users,
           %(retention)s::int[] AS retention,
           %(tools)s::text[] AS tools,
           %(tool_names)s::text[] AS tool_names,
           %(costs)s::int[] AS costs
), hashed AS (
    SELECT g AS n, md5(%(seed)s || ':' || g) AS h
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
), numbers AS MATERIALIZED (
    -- MATERIALIZED: inlined, every later reference to a, b, c or d would
    -- recompute the md5 and its casts; computed once, a run costs ~4x less.
    -- Four independent 31-bit numbers per run, from the four quarters of the hash.
    SELECT n, h,
           ('x' || substr(h, 1, 8))::bit(32)::bigint & 2147483647 AS a,
           ('x' || substr(h, 9, 8))::bit(32)::bigint & 2147483647 AS b,
           ('x' || substr(h, 17, 8))::bit(32)::bigint & 2147483647 AS c,
           ('x' || substr(h, 25, 8))::bit(32)::bigint & 2147483647 AS d
    FROM hashed
), shaped AS (
    SELECT n, h, a, b, c, d,
           -- A few heavy users and a long tail: squaring skews toward the front.
           1 + floor((a / 2147483648.0::float8) ^ 2 * cardinality(p.users))::int AS user_index,
           1 + mod(b, cardinality(p.tools)) AS tool_index,
           p.anchor - interval '1 second' * mod(c, 30 * 86400) AS created_at,
           mod(d, 100) AS fate,
           1 + mod(d / 100, 200) AS size_kb_factor
    FROM numbers, params p
), runs AS MATERIALIZED (
    SELECT s.*, p.users[s.user_index] AS user_id, p.tools[s.tool_index] AS tool_id,
           p.tool_names[s.tool_index] AS tool_name, p.costs[s.tool_index] AS cost,
           p.retention[s.user_index] AS retention_hours,
           CASE
               WHEN s.fate < 82 THEN 'COMPLETED'
               WHEN s.fate < 94 THEN 'FAILED'
               -- Unfinished runs only in the last hour: older ones would be stuck.
               WHEN s.created_at > p.anchor - interval '1 hour' AND s.fate < 97 THEN 'PROCESSING'
               WHEN s.created_at > p.anchor - interval '1 hour' THEN 'PENDING'
               ELSE 'COMPLETED'
           END AS status,
           s.size_kb_factor * 1024 * (1 + mod(s.a, 97)) AS bytes_in,
           (15 + mod(s.b, 70)) / 100.0::float8 AS ratio
    FROM shaped s, params p
)
INSERT INTO history (
    id, user_id, tool_id, tool_name, status, input_file_name, output_file_name, file_key, metadata,
    error_message, bytes_in, bytes_out, credits_charged, idempotency_key, request_fingerprint,
    expires_at, created_at, started_at, finished_at, updated_at
)
SELECT
    r.h::uuid,
    r.user_id,
    r.tool_id,
    r.tool_name,
    r.status,
    CASE WHEN r.tool_id LIKE 'pdf-%%' THEN 'document-' || r.n || '.pdf' ELSE 'photo-' || r.n || '.png' END,
    CASE WHEN r.status <> 'COMPLETED' THEN ''
         WHEN r.tool_id = 'pdf-merge' THEN 'merged-' || r.n || '.pdf'
         WHEN r.tool_id = 'pdf-compress' THEN 'compressed-' || r.n || '.pdf'
         WHEN r.tool_id = 'image-convert' THEN 'photo-' || r.n || '.webp'
         ELSE 'photo-' || r.n || '.min.png' END,
    '',
    CASE r.tool_id
        WHEN 'pdf-merge' THEN jsonb_build_object('pages', 2 + mod(r.c, 118), 'inputFiles', 2 + mod(r.d, 5))
        WHEN 'pdf-compress' THEN jsonb_build_object('pages', 1 + mod(r.c, 80), 'compressionRatio', round(r.ratio::numeric, 2))
        WHEN 'image-compress' THEN jsonb_build_object(
            'compressionRatio', round(r.ratio::numeric, 2), 'width', 640 + mod(r.c, 3200), 'height', 480 + mod(r.d, 2400),
            'format', 'png')
        ELSE jsonb_build_object('from', 'png', 'to', 'webp', 'width', 640 + mod(r.c, 3200),
                                'height', 480 + mod(r.d, 2400))
    END,
    CASE WHEN r.status <> 'FAILED' THEN ''
         WHEN mod(r.a, 3) = 0 THEN 'The file is not a valid PDF: startxref not found.'
         WHEN mod(r.a, 3) = 1 THEN 'The image is too large to decode safely (decompression bomb).'
         ELSE 'Timed out after 30 minutes in PROCESSING.' END,
    r.bytes_in,
    CASE WHEN r.status = 'COMPLETED' THEN floor(r.bytes_in * r.ratio)::bigint ELSE 0 END,
    r.cost,
    'demo-' || r.n,
    r.h,
    r.created_at + interval '1 hour' * r.retention_hours,
    r.created_at,
    CASE WHEN r.status = 'PENDING' THEN NULL ELSE r.created_at + interval '1 second' * (1 + mod(r.b, 5)) END,
    CASE WHEN r.status IN ('COMPLETED', 'FAILED')
         THEN r.created_at + interval '1 second' * (2 + mod(r.b, 5) + mod(r.c, 40)) END,
    r.created_at
FROM runs r
