pub mod design;
pub mod diag;
pub mod model;
pub mod source;
pub mod validate;
