"""The prediction and feedback logs as their readers see them (the schema itself is
:mod:`steward.domain.log_schema`)."""
