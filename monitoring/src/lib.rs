//! The monitoring assets in this folder, embedded so the operator ships exactly these files.
