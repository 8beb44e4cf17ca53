"""Use cases: one async function per state change (``do_*``) or check (``check_*``)."""
