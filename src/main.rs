/// mimalloc rather than glibc's malloc: a request allocates dozens of small values, and under
/// load glibc spent a quarter of the service's CPU in malloc and free (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    patriot_api::app::main()
}
