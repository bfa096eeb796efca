//! The errors a domain command can end with. Each carries a stable snake_case code and a sentence
//! a user can act on; the HTTP layer maps the variant to a status code and nothing else.

/// Why a command was refused. A refused command changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not see it.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The caller may see it but is not allowed to do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The thing is not in a state where this is possible (e.g. the offer was withdrawn).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The input is invalid.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
}

impl DomainError {
    pub fn not_found(what: &str) -> Self {
        DomainError::NotFound {
            code: "not_found",
            message: format!("{what} not found"),
        }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Forbidden {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            code,
            message: message.into(),
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NotFound { code, .. }
            | DomainError::Forbidden { code, .. }
            | DomainError::Conflict { code, .. }
            | DomainError::Invalid { code, .. } => code,
        }
    }
}
