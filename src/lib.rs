//! mxfloop: placeholder, replaced by the driver glue.
#![cfg_attr(target_os = "windows", no_std)]
