//! The store's one error type.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated, e.g. a username that is already taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The question itself is wrong (an unknown time zone, an empty range): the caller's input.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A stored row could not be decoded into its domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Several nodes: the commit's lease epoch no longer holds the router lease (another node
    /// took over, or it expired); nothing was written.
    #[error("the router lease of epoch {0} is lost; nothing was committed")]
    Fenced(i64),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Turns a unique violation into [`StoreError::Conflict`] with `what` as its message; every
    /// other error becomes [`StoreError::Database`].
    pub(crate) fn conflict_or(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
        if is_unique_violation(&err) {
            StoreError::Conflict(what())
        } else {
            StoreError::Database(err)
        }
    }
}

impl StoreError {
    /// The database refused the data itself (a constraint, an encoding, a value or size it
    /// cannot hold), not for an outage: the same rows would be refused again, other rows not.
    pub fn is_data_fault(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::NotFound
            | StoreError::Corrupt(_)
            | StoreError::Invalid(_)
            | StoreError::Fenced(_) => false,
            StoreError::Database(e) => is_data_error(e),
        }
    }
}

fn is_data_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(e) => {
            use sqlx::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation
            ) {
                return true;
            }
            let Some(code) = e.code() else {
                return false;
            };
            if code.len() == 5 {
                // PostgreSQL's SQLSTATE: 22 data exception (e.g. NUL in text), 23 integrity
                // constraint violation, 54 program limit exceeded (an index entry or a
                // tsvector too big).
                ["22", "23", "54"].iter().any(|c| code.starts_with(c))
            } else {
                // SQLite's (extended) result code: TOOBIG, CONSTRAINT, MISMATCH.
                code.parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, 18..=20))
            }
        }
        _ => false,
    }
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
