//! drover's object model.
