/* fuzz_request.c - libFuzzer target for nmnd's request handling: each
 * input is one request line, parsed as the control socket does and handed
 * to the daemon's real handler (a unity build of daemon/nmnd.c, its main
 * renamed) over a real store, with no workers. Every input must get a reply
 * and cost no leak, crash or undefined behaviour. */
#define main nmnd_main
#include "../../daemon/nmnd.c"
#undef main

static daemon_t fd_daemon;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[64], err[512];
    snprintf(path, sizeof path, "/tmp/nmn-fuzz-request-%d.db", (int)getpid());
    unlink(path);
    if (store_open(&fd_daemon.store, path, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    uv_loop_init(&fd_daemon.loop);
    pool_opts_t po = {0, "/tmp", 10, 300};
    fd_daemon.pool = pool_new(&fd_daemon.loop, &po, on_results, &fd_daemon);
    uv_timer_init(&fd_daemon.loop, &fd_daemon.stop_timer);
    fd_daemon.stop_timer.data = &fd_daemon;
    fd_daemon.max_attempts = 3;
    log_level = LOG_ERROR; /* quiet */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (req && json_is_object(req) && json_is_string(json_object_get(req, "method"))) {
        json_t *reply = handle(&fd_daemon, req);
        if (reply == NULL || !json_is_boolean(json_object_get(reply, "ok")))
            __builtin_trap(); /* every request gets {"ok": ...} */
        json_decref(reply);
    }
    json_decref(req);
    fd_daemon.paused = 0; /* keep the state space small */
    return 0;
}
