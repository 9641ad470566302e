// The worker process: `modelpool worker --fd N --parent PID`, started by the
// server (process/worker_client.h), never by hand.
//
// It receives the model to open (kHello, with the arena's descriptor),
// opens it through the same seam as the server would in a thread (the
// backend's open() from `catalog`, with one instance), answers kReady, then
// serves calls until told to stop. Each call runs on a thread of its own, so
// a cancel or a heartbeat is answered while the engine works.
//
// It never outlives the server: it exits when the control channel reaches
// end of stream (the server closed it or died), and the kernel kills it if
// the server's thread that started it dies (PR_SET_PDEATHSIG), which also
// ends a worker that is stopped (SIGSTOP) when the server goes.
#pragma once

#include <sys/types.h>

#include "modelpool/backend.h"

namespace modelpool::process {

// Serves the server at the other end of `channel_fd` until it says stop or
// goes; returns the process's exit code. `parent` is the pid that must be
// our parent (a worker whose parent already died exits at once).
int run_worker(const BackendCatalog& catalog, int channel_fd, pid_t parent);

// `argv` after the program name: "worker --fd N --parent PID". The exit
// code when it was a worker command, nullopt when it was not one.
std::optional<int> run_worker_command(const BackendCatalog& catalog, int argc, char** argv);

}  // namespace modelpool::process
