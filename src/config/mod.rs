//! Configuration: YAML types, loading with precise errors, validation.
