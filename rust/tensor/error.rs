//! The crate's error type. Each variant maps to the Python exception PyTorch raises.

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Type(String),
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    OutOfMemory(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(Runtime, "fmt", args)` returns early with the given error kind.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::tensor::Error::$kind(format!($($arg)*)))
    };
}
