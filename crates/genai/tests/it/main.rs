//! genai's integration tests
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod finish;
mod fuzz_seeds;
mod modelpack;
mod shap_e_parity;
mod templates;
