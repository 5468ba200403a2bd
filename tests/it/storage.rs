//! The backup stores against real backends: a local temp directory and the harness's Azurite.
//!
//! The cases in [`cases`] run once per backend (`both!`); `local` and `azure` hold the backend-specific ones.
//! Azure results are checked with the harness's own Shared Key client (`tests/common/blob.rs`), so a bug in
//! campctl's Azure code cannot hide itself.

mod azure;
mod cases;
mod fixture;
mod local;

/// Runs a case of [`cases`] against both backends, as `<case>::local` and `<case>::azure`.
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    super::cases::$case(super::fixture::Fixture::local()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn azure() {
                    super::cases::$case(super::fixture::Fixture::azure()).await;
                }
            }
        )*
    };
}

both!(
    chunked_upload_is_listed_and_reads_back,
    aborted_or_abandoned_uploads_leave_nothing,
    put_new_twice_is_already_exists,
    commit_onto_an_existing_name_keeps_the_old_object,
    second_lock_names_the_holder,
    lock_after_release_is_free,
    waiting_lock_gets_it_when_released,
    unlock_breaks_another_hosts_lock,
);
