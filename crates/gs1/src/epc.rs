//! EPC: placeholder
