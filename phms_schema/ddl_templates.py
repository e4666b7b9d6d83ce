"""Default report templates: one per kind, and the default is never deleted.

``phms.report_template.is_default`` marks the template a report opens with (for
individual reports: the site's default letter). A partial unique index keeps
at most one per kind; a BEFORE DELETE trigger refuses to delete the default,
for every login including a superuser at ``psql`` (choose another default
first), and a BEFORE TRUNCATE trigger refuses emptying the table. The
refusal names the constraint ``report_template_default_kept`` so clients can
explain it. First used by migration 0014.
"""

from __future__ import annotations

from typing import Final

DEFAULT_KEPT: Final = "report_template_default_kept"

ADD_COLUMN: Final = (
    "ALTER TABLE phms.report_template ADD COLUMN is_default boolean NOT NULL DEFAULT false"
)
DEFAULT_INDEX: Final = (
    "CREATE UNIQUE INDEX uq_report_template_default ON phms.report_template (kind) WHERE is_default"
)
# The oldest template of each kind (the ones the site was installed with) becomes its default.
SEED: Final = """UPDATE phms.report_template SET is_default = true
 WHERE id IN (SELECT min(id) FROM phms.report_template GROUP BY kind)"""

KEEP_DEFAULT_FUNCTION: Final = f"""CREATE FUNCTION phms.keep_default_template() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    IF EXISTS (SELECT FROM phms.report_template WHERE is_default) THEN
      RAISE EXCEPTION 'report templates include the defaults; they cannot all be removed'
        USING ERRCODE = 'restrict_violation', CONSTRAINT = '{DEFAULT_KEPT}',
              HINT = 'Delete the other templates one by one.';
    END IF;
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'report template "%" is the default % template', OLD.name, OLD.kind
    USING ERRCODE = 'restrict_violation', CONSTRAINT = '{DEFAULT_KEPT}',
          HINT = 'Make another template the default first.';
END $$"""
KEEP_DEFAULT_TRIGGER: Final = """CREATE TRIGGER keep_default BEFORE DELETE ON phms.report_template
  FOR EACH ROW WHEN (OLD.is_default) EXECUTE FUNCTION phms.keep_default_template()"""
# TRUNCATE fires no row trigger: refuse it as a statement while a default exists.
KEEP_DEFAULT_TRUNCATE: Final = """CREATE TRIGGER keep_default_truncate
  BEFORE TRUNCATE ON phms.report_template
  FOR EACH STATEMENT EXECUTE FUNCTION phms.keep_default_template()"""


def upgrade_statements() -> list[str]:
    return [
        ADD_COLUMN,
        DEFAULT_INDEX,
        SEED,
        KEEP_DEFAULT_FUNCTION,
        KEEP_DEFAULT_TRIGGER,
        KEEP_DEFAULT_TRUNCATE,
    ]


def downgrade_statements() -> list[str]:
    return [
        "DROP TRIGGER keep_default_truncate ON phms.report_template",
        "DROP TRIGGER keep_default ON phms.report_template",
        "DROP FUNCTION phms.keep_default_template()",
        "DROP INDEX phms.uq_report_template_default",
        "ALTER TABLE phms.report_template DROP COLUMN is_default",
    ]
