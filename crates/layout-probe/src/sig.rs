//! The shape of a function pointer type, for comparing hand-written `extern` declarations
//! with C prototypes: parameter count and sizes, return size, variadic, diverging.

/// What [`FnSig`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnShape {
    /// `size_of` of every fixed parameter, in order.
    pub args: Vec<usize>,
    /// `size_of` of the return type (0 for `()` and `!`).
    pub ret: usize,
    /// Ends in `...`.
    pub variadic: bool,
    /// Returns `!`.
    pub noreturn: bool,
}

/// Implemented by `unsafe extern "system"`/`"C"` function pointer types of up to 8 parameters
/// (and variadic `"C"` ones of up to 4 fixed parameters).
pub trait FnSig {
    /// The shape of `Self`.
    fn shape() -> FnShape;
}

/// Whether `R` is `!`: `fn(..) -> !` is the `R = !` instance of `fn(..) -> R` (a separate
/// impl for it would overlap), and stable Rust cannot name `!` as a type argument, so the
/// type's name is the only way to tell.
fn diverges<R>() -> bool {
    core::any::type_name::<R>() == "!"
}

macro_rules! fn_sig_impls {
    ($($a:ident),*) => {
        fn_sig_impls!(@one "system", $($a),*);
        fn_sig_impls!(@one "C", $($a),*);
    };
    (@one $abi:literal, $($a:ident),*) => {
        impl<R, $($a),*> FnSig for unsafe extern $abi fn($($a),*) -> R {
            fn shape() -> FnShape {
                FnShape {
                    args: vec![$(size_of::<$a>()),*],
                    ret: size_of::<R>(),
                    variadic: false,
                    noreturn: diverges::<R>(),
                }
            }
        }
    };
}

macro_rules! variadic_impls {
    ($($a:ident),+) => {
        impl<R, $($a),+> FnSig for unsafe extern "C" fn($($a),+, ...) -> R {
            fn shape() -> FnShape {
                FnShape {
                    args: vec![$(size_of::<$a>()),+],
                    ret: size_of::<R>(),
                    variadic: true,
                    noreturn: false,
                }
            }
        }
    };
}

fn_sig_impls!();
fn_sig_impls!(A);
fn_sig_impls!(A, B);
fn_sig_impls!(A, B, C);
fn_sig_impls!(A, B, C, D);
fn_sig_impls!(A, B, C, D, E);
fn_sig_impls!(A, B, C, D, E, F);
fn_sig_impls!(A, B, C, D, E, F, G);
fn_sig_impls!(A, B, C, D, E, F, G, H);
variadic_impls!(A);
variadic_impls!(A, B);
variadic_impls!(A, B, C);
variadic_impls!(A, B, C, D);

/// The shape of the function pointer type a never-called closure would return.
///
/// Pass `|| some_extern_fn as unsafe extern "system" fn(_, _) -> _`: the types are inferred
/// from the declaration, and because the closure is never called the symbol is never
/// referenced, so imports that only exist on Windows need not link on the host.
pub fn shape_of<F: FnSig>(_witness: impl FnOnce() -> F) -> FnShape {
    F::shape()
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "system" {
        fn never_linked(a: u8, b: u64, c: *mut u16) -> u16;
        fn never_returns(code: u32) -> !;
    }
    unsafe extern "C" {
        fn never_linked_variadic(level: u32, format: *const u8, ...) -> i32;
    }

    #[test]
    fn shapes_come_from_the_declarations() {
        assert_eq!(
            shape_of(|| never_linked as unsafe extern "system" fn(_, _, _) -> _),
            FnShape {
                args: vec![1, 8, 8],
                ret: 2,
                variadic: false,
                noreturn: false
            }
        );
        assert_eq!(
            shape_of(|| never_returns as unsafe extern "system" fn(_) -> !),
            FnShape {
                args: vec![4],
                ret: 0,
                variadic: false,
                noreturn: true
            }
        );
        assert_eq!(
            shape_of(|| never_linked_variadic as unsafe extern "C" fn(_, _, ...) -> _),
            FnShape {
                args: vec![4, 8],
                ret: 4,
                variadic: true,
                noreturn: false
            }
        );
        assert_eq!(
            shape_of(|| -> unsafe extern "C" fn() { todo_never_called }).args,
            Vec::<usize>::new()
        );
    }

    unsafe extern "C" fn todo_never_called() {}
}
