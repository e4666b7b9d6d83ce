"""The auditor's review of the audit trail (migration 0015): recorded, bounded, fast.

Auditors no longer SELECT ``audit.event`` / ``audit.chart_access`` directly: they
call the ``audit.review_*`` functions below (SECURITY DEFINER, callable by
``phms_auditor`` only). Each call first appends one row to ``audit.review_log``
(who, when, from where, which view, which filters), so "every query an auditor
runs is itself recorded" is enforced by the database, whatever the client.

An investigating auditor needs names and values, so the functions return the
patient's name and ID with each row and an event's old and new values in full;
they return nothing else of ``phms`` (no chart, no demographics beyond name, ID
and date of birth to tell two patients apart).

Paging is keyset, newest first by ``(at, kind, id)`` with kind ``event`` before
``chart`` at the same instant; the indexes make each page an index range scan.
"""

from __future__ import annotations

from typing import Final

from phms_schema.roles import GROUPS

AUDITOR: Final = GROUPS["auditor"]
_DEFINER: Final = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"

#: What the ``review_log.view`` column may say: one per review function.
VIEWS: Final = ("activity", "event", "patients", "flags")
#: Largest page an auditor may ask for (a report asks for up to this many rows).
MAX_ROWS: Final = 5000
#: Longest period the flags are computed over (each flag looks +-30 days around it).
MAX_FLAG_DAYS: Final = 92
#: Longest filter text (a login, a name, an ID, a table, an operation).
MAX_FILTER: Final = 200
#: Many charts in a short time: this many different charts within one clock hour.
BURST_CHARTS: Final = 20
#: Default clinic hours (setting ``clinic_hours``), local time of the server session.
CLINIC_HOURS: Final = {"opens": "07:00", "closes": "19:00"}

#: Every SECURITY DEFINER function this module creates (signature as pg prints it).
FUNCTIONS: Final = (
    "audit.review_activity(text,text,timestamp with time zone,timestamp with time zone,"
    "text,text,timestamp with time zone,text,bigint,integer)",
    "audit.review_event(text,bigint)",
    "audit.review_patients(text,integer)",
    "audit.review_flags(timestamp with time zone,timestamp with time zone,integer)",
)

_PATIENT_OF_EVENT = "audit.event_patient(e.table_name, e.row_key, e.old_values, e.new_values)"


def create_review() -> list[str]:
    return [
        # ---------------------------------------------------------------- the log
        f"""CREATE TABLE audit.review_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_user_name text NOT NULL DEFAULT session_user
    CONSTRAINT ck_review_log_user_length CHECK (length(session_user_name) <= 63),
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  view text NOT NULL CONSTRAINT ck_review_log_view CHECK (view IN {VIEWS!r}),
  filters jsonb NOT NULL CONSTRAINT ck_review_log_filters_size
    CHECK (jsonb_typeof(filters) = 'object' AND length(filters::text) <= 4000),
  client_addr inet DEFAULT inet_client_addr(),
  application_name text DEFAULT current_setting('application_name', true)
    CONSTRAINT ck_review_log_application_length CHECK (length(application_name) <= 200)
)""",
        "CREATE INDEX ix_review_log_user_at ON audit.review_log (session_user_name, at)",
        "REVOKE ALL ON audit.review_log FROM PUBLIC",
        f"GRANT SELECT ON audit.review_log TO {AUDITOR}",
        # Reading the trail goes through the recorded functions only.
        f"REVOKE SELECT ON audit.event, audit.chart_access FROM {AUDITOR}",
        # ---------------------------------------------------------------- indexes
        # The patient an event is about: the patient row itself, or a clinical row's
        # patient_id. Never fails (odd keys give NULL), so it can be indexed.
        """CREATE FUNCTION audit.event_patient(p_table text, p_key text, p_old jsonb, p_new jsonb)
  RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE
    WHEN p_table = 'patient' THEN
      CASE WHEN p_key ~ '^[0-9]{1,18}$' THEN p_key::bigint END
    WHEN coalesce(p_new, p_old) ->> 'patient_id' ~ '^[0-9]{1,18}$' THEN
      (coalesce(p_new, p_old) ->> 'patient_id')::bigint
  END""",
        "CREATE INDEX ix_event_at_id ON audit.event (at, id)",
        "CREATE INDEX ix_event_user_at ON audit.event (session_user_name, at, id)",
        "CREATE INDEX ix_event_patient_at ON audit.event"
        " ((audit.event_patient(table_name, row_key, old_values, new_values)), at, id)",
        "CREATE INDEX ix_chart_access_at_id ON audit.chart_access (at, id)",
        "CREATE INDEX ix_chart_access_user_at ON audit.chart_access (session_user_name, at, id)",
        # ---------------------------------------------------------------- helpers
        f"""CREATE FUNCTION audit.review_check_text(p_name text, p_value text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF length(p_value) > {MAX_FILTER} THEN
    RAISE EXCEPTION 'The % filter is longer than {MAX_FILTER} characters', p_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$""",
        """CREATE FUNCTION audit.review_resolve(p_patient text) RETURNS bigint[]
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t text := btrim(p_patient);
  n bigint;
  ids bigint[];
BEGIN
  -- Decided here, not in the query: SQL does not promise to test the pattern
  -- before casting, and a name cast to bigint is an error.
  IF t ~ '^[0-9]{1,18}$' THEN
    n := t::bigint;
  END IF;
  SELECT array_agg(p.id) INTO ids FROM phms.patient p
   WHERE p.patient_code = upper(t) OR p.id = n;
  IF ids IS NOT NULL THEN
    RETURN ids;
  END IF;
  SELECT array_agg(m.id) INTO ids FROM (
    SELECT p.id FROM phms.patient p
     WHERE p.search_name COLLATE "C" >= phms.search_key(t)
       AND p.search_name COLLATE "C" < phms.search_key(t) || U&'\\+10FFFF'
     ORDER BY p.search_name COLLATE "C" LIMIT 50) m;
  RETURN coalesce(ids, '{}');
END $$""",
        # ---------------------------------------------------------------- activity
        f"""CREATE FUNCTION audit.review_activity(
    p_staff text, p_patient text, p_from timestamptz, p_to timestamptz,
    p_table text, p_operation text,
    p_after_at timestamptz, p_after_kind text, p_after_id bigint, p_limit integer)
  RETURNS TABLE (kind text, id bigint, at timestamptz, staff text, table_name text,
                 operation text, row_key text, patient_id bigint, patient_code text,
                 patient_name text, client_addr text, application_name text)
  LANGUAGE plpgsql {_DEFINER} AS $$
#variable_conflict use_column
DECLARE
  ids bigint[];
  ev text := 'true';
  ca text := 'true';
BEGIN
  PERFORM audit.review_check_text('staff', p_staff);
  PERFORM audit.review_check_text('patient', p_patient);
  PERFORM audit.review_check_text('table', p_table);
  PERFORM audit.review_check_text('operation', p_operation);
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND {MAX_ROWS} THEN
    RAISE EXCEPTION 'Ask for 1 to {MAX_ROWS} rows at a time, not %', p_limit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_from > p_to THEN
    RAISE EXCEPTION 'The period starts after it ends' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (p_after_at IS NULL) <> (p_after_kind IS NULL)
     OR (p_after_kind IS NULL) <> (p_after_id IS NULL)
     OR p_after_kind NOT IN ('event', 'chart') THEN
    RAISE EXCEPTION 'A page starts after a whole (time, kind, id) or at the top'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO audit.review_log (view, filters) VALUES ('activity', jsonb_strip_nulls(
    jsonb_build_object('staff', p_staff, 'patient', p_patient, 'from', p_from, 'to', p_to,
                       'table', p_table, 'operation', p_operation, 'after_at', p_after_at,
                       'after_kind', p_after_kind, 'after_id', p_after_id, 'limit', p_limit)));
  IF p_staff IS NOT NULL THEN
    ev := ev || ' AND e.session_user_name = $1';
    ca := ca || ' AND c.session_user_name = $1';
  END IF;
  IF p_patient IS NOT NULL THEN
    ids := audit.review_resolve(p_patient);
    ev := ev || ' AND {_PATIENT_OF_EVENT} = ANY($2)';
    ca := ca || ' AND c.patient_id = ANY($2)';
  END IF;
  IF p_from IS NOT NULL THEN
    ev := ev || ' AND e.at >= $3';
    ca := ca || ' AND c.at >= $3';
  END IF;
  IF p_to IS NOT NULL THEN
    ev := ev || ' AND e.at < $4';
    ca := ca || ' AND c.at < $4';
  END IF;
  IF p_table IS NOT NULL THEN
    IF p_table = 'chart_access' THEN
      ev := 'false';
    ELSE
      ev := ev || ' AND e.table_name = $5';
      ca := 'false';
    END IF;
  END IF;
  IF p_operation IS NOT NULL THEN
    IF upper(p_operation) = 'OPEN' THEN
      ev := 'false';
    ELSE
      ev := ev || ' AND e.operation = upper($6)';
      ca := 'false';
    END IF;
  END IF;
  IF p_after_at IS NOT NULL THEN
    -- Newest first by (at, kind, id), events before chart openings at one instant.
    ev := ev || ' AND (e.at, e.id) < ($7, $8)';
    ca := ca || ' AND (c.at, c.id) < ($7, $9)';
  END IF;
  RETURN QUERY EXECUTE format($q$
SELECT r.kind, r.id, r.at, r.staff, r.table_name, r.operation, r.row_key, r.patient_id,
       p.patient_code::text, (p.family_name || ', ' || p.given_name)::text,
       host(r.client_addr), r.application_name
  FROM ((SELECT 'event'::text AS kind, e.id, e.at, e.session_user_name AS staff, e.table_name,
                e.operation, e.row_key, {_PATIENT_OF_EVENT} AS patient_id,
                e.client_addr, e.application_name
           FROM audit.event e WHERE %s ORDER BY e.at DESC, e.id DESC LIMIT $10)
        UNION ALL
        (SELECT 'chart'::text, c.id, c.at, c.session_user_name, 'chart_access'::text, 'OPEN'::text,
                c.patient_id::text, c.patient_id, c.client_addr, c.application_name
           FROM audit.chart_access c WHERE %s ORDER BY c.at DESC, c.id DESC LIMIT $10)) r
  LEFT JOIN phms.patient p ON p.id = r.patient_id
 ORDER BY r.at DESC, r.kind DESC, r.id DESC LIMIT $10$q$, ev, ca)
  USING p_staff, ids, p_from, p_to, p_table, p_operation, p_after_at,
        CASE p_after_kind WHEN 'event' THEN p_after_id ELSE 0 END,
        CASE p_after_kind WHEN 'chart' THEN p_after_id ELSE 9223372036854775807 END,
        p_limit;
END $$""",
        # ---------------------------------------------------------------- one event
        f"""CREATE FUNCTION audit.review_event(p_kind text, p_id bigint)
  RETURNS TABLE (kind text, id bigint, at timestamptz, staff text, table_name text,
                 operation text, row_key text, patient_id bigint, patient_code text,
                 patient_name text, client_addr text, application_name text, txid bigint,
                 old_values jsonb, new_values jsonb)
  LANGUAGE plpgsql {_DEFINER} AS $$
#variable_conflict use_column
BEGIN
  IF p_kind IS NULL OR p_kind NOT IN ('event', 'chart') OR p_id IS NULL THEN
    RAISE EXCEPTION 'Name an event or a chart opening by kind and id'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO audit.review_log (view, filters)
  VALUES ('event', jsonb_build_object('kind', p_kind, 'id', p_id));
  IF p_kind = 'event' THEN
    RETURN QUERY
    SELECT 'event'::text, e.id, e.at, e.session_user_name, e.table_name, e.operation, e.row_key,
           x.pid, p.patient_code::text, (p.family_name || ', ' || p.given_name)::text,
           host(e.client_addr), e.application_name, e.txid, e.old_values, e.new_values
      FROM audit.event e
      CROSS JOIN LATERAL (SELECT {_PATIENT_OF_EVENT} AS pid) x
      LEFT JOIN phms.patient p ON p.id = x.pid
     WHERE e.id = p_id;
  ELSE
    RETURN QUERY
    SELECT 'chart'::text, c.id, c.at, c.session_user_name, 'chart_access'::text, 'OPEN'::text,
           c.patient_id::text, c.patient_id, p.patient_code::text,
           (p.family_name || ', ' || p.given_name)::text,
           host(c.client_addr), c.application_name, NULL::bigint, NULL::jsonb, NULL::jsonb
      FROM audit.chart_access c LEFT JOIN phms.patient p ON p.id = c.patient_id
     WHERE c.id = p_id;
  END IF;
END $$""",
        # ---------------------------------------------------------------- patients
        f"""CREATE FUNCTION audit.review_patients(p_query text, p_limit integer)
  RETURNS TABLE (id bigint, patient_code text, family_name text, given_name text,
                 birth_date date)
  LANGUAGE plpgsql {_DEFINER} AS $$
#variable_conflict use_column
BEGIN
  PERFORM audit.review_check_text('patient', p_query);
  IF p_query IS NULL OR length(btrim(p_query)) = 0 THEN
    RAISE EXCEPTION 'Type a name or a patient ID' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'Ask for 1 to 50 patients, not %', p_limit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO audit.review_log (view, filters)
  VALUES ('patients', jsonb_build_object('query', p_query, 'limit', p_limit));
  RETURN QUERY
  SELECT p.id, p.patient_code::text, p.family_name::text, p.given_name::text, p.birth_date
    FROM phms.patient p WHERE p.id = ANY(audit.review_resolve(p_query))
   ORDER BY p.search_name COLLATE "C", p.id LIMIT p_limit;
END $$""",
        # ---------------------------------------------------------------- flags
        f"""CREATE FUNCTION audit.review_flags(p_from timestamptz, p_to timestamptz,
                                  p_limit integer)
  RETURNS TABLE (flag text, at timestamptz, staff text, patient_id bigint,
                 patient_code text, patient_name text, client_addr text, detail text)
  LANGUAGE plpgsql {_DEFINER} AS $$
#variable_conflict use_column
DECLARE
  hours jsonb;
  opens time;
  closes time;
  w_start timestamptz;
  w_end timestamptz := p_to;
  got integer := 0;
  n integer;
BEGIN
  IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to
     OR p_to - p_from > interval '{MAX_FLAG_DAYS} days' THEN
    RAISE EXCEPTION 'Choose a period of at most {MAX_FLAG_DAYS} days that starts before it ends'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND {MAX_ROWS} THEN
    RAISE EXCEPTION 'Ask for 1 to {MAX_ROWS} flags, not %', p_limit
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO audit.review_log (view, filters)
  VALUES ('flags', jsonb_build_object('from', p_from, 'to', p_to, 'limit', p_limit));
  SELECT s.value INTO hours FROM phms.setting s WHERE s.key = 'clinic_hours';
  BEGIN
    opens := coalesce((hours ->> 'opens')::time, '{CLINIC_HOURS["opens"]}');
    closes := coalesce((hours ->> 'closes')::time, '{CLINIC_HOURS["closes"]}');
  EXCEPTION WHEN others THEN  -- an unreadable setting: the default hours
    opens := '{CLINIC_HOURS["opens"]}';
    closes := '{CLINIC_HOURS["closes"]}';
  END;
  -- Newest first, one day at a time, until the page is full: the first page
  -- costs a day's openings, not the whole period's.
  WHILE w_end > p_from AND got < p_limit LOOP
  w_start := greatest(p_from, date_trunc('day', w_end - interval '1 microsecond'));
  RETURN QUERY
  WITH o AS (
    SELECT c.id, c.at, c.session_user_name AS staff, c.patient_id, c.client_addr
      FROM audit.chart_access c WHERE c.at >= w_start AND c.at < w_end
  ), f AS (
    SELECT 'no_reason'::text AS flag, o.at, o.staff, o.patient_id, o.client_addr,
           'No appointment, and nothing written by ' || o.staff
           || ' for this patient, within 30 days either side.' AS detail
      FROM o
     WHERE NOT EXISTS (SELECT FROM phms.appointment a
                        WHERE a.patient_id = o.patient_id
                          AND a.starts_at BETWEEN o.at - interval '30 days'
                                              AND o.at + interval '30 days')
       AND NOT EXISTS (SELECT FROM audit.event e
                        WHERE {_PATIENT_OF_EVENT} = o.patient_id
                          AND e.at BETWEEN o.at - interval '30 days' AND o.at + interval '30 days'
                          AND e.session_user_name = o.staff)
    UNION ALL
    SELECT 'many_charts', max(o.at), o.staff, NULL::bigint, NULL::inet,
           'Opened ' || count(DISTINCT o.patient_id) || ' different charts between '
           || to_char(date_trunc('hour', o.at), 'YYYY-MM-DD HH24:MI') || ' and '
           || to_char(date_trunc('hour', o.at) + interval '1 hour', 'HH24:MI')
           || ' ({BURST_CHARTS} or more in one hour is unusual).'
      FROM o GROUP BY o.staff, date_trunc('hour', o.at)
    HAVING count(DISTINCT o.patient_id) >= {BURST_CHARTS}
    UNION ALL
    SELECT 'after_hours', o.at, o.staff, o.patient_id, o.client_addr,
           'Opened at ' || to_char(o.at, 'HH24:MI') || ', outside the clinic''s hours ('
           || to_char(opens, 'HH24:MI') || '–' || to_char(closes, 'HH24:MI') || ').'
      FROM o WHERE o.at::time < opens OR o.at::time >= closes
    UNION ALL
    SELECT 'own_name', o.at, o.staff, o.patient_id, o.client_addr,
           'The login ' || o.staff || ' contains the family name ' || p.family_name
           || ': a relative, or themself?'
      FROM o JOIN phms.patient p ON p.id = o.patient_id
     WHERE length(phms.search_key(p.family_name)) >= 3
       AND strpos(phms.search_key(o.staff), phms.search_key(p.family_name)) > 0
  )
  SELECT f.flag, f.at, f.staff, f.patient_id, p.patient_code::text,
         (p.family_name || ', ' || p.given_name)::text, host(f.client_addr), f.detail
    FROM f LEFT JOIN phms.patient p ON p.id = f.patient_id
   ORDER BY f.at DESC, f.flag LIMIT p_limit - got;
  GET DIAGNOSTICS n = ROW_COUNT;
  got := got + n;
  w_end := w_start;
  END LOOP;
END $$""",
        *(f"REVOKE ALL ON FUNCTION {sig} FROM PUBLIC" for sig in FUNCTIONS),
        *(f"GRANT EXECUTE ON FUNCTION {sig} TO {AUDITOR}" for sig in FUNCTIONS),
        # Helpers: internal, no rights of their own (they run inside the definers).
        "REVOKE ALL ON FUNCTION audit.review_resolve(text) FROM PUBLIC",
        "REVOKE ALL ON FUNCTION audit.review_check_text(text, text) FROM PUBLIC",
    ]


def drop_review() -> list[str]:
    return [
        *(f"DROP FUNCTION {sig}" for sig in FUNCTIONS),
        "DROP FUNCTION audit.review_resolve(text)",
        "DROP FUNCTION audit.review_check_text(text, text)",
        "DROP INDEX audit.ix_event_at_id",
        "DROP INDEX audit.ix_event_user_at",
        "DROP INDEX audit.ix_event_patient_at",
        "DROP INDEX audit.ix_chart_access_at_id",
        "DROP INDEX audit.ix_chart_access_user_at",
        "DROP FUNCTION audit.event_patient(text, text, jsonb, jsonb)",
        "DROP TABLE audit.review_log",
        f"GRANT SELECT ON audit.event, audit.chart_access TO {AUDITOR}",
    ]
