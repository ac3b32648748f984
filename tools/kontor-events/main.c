/*  kontor-events - follow one producer's events the way an outside system should.
 *
 *      kontor-events [--from SEQ] [--offset-file PATH] [--count N] PRODUCER [TYPE...]
 *
 *  This program is the reference for integrators (docs/integration.md walks
 *  through it): it does everything a WMS or a TMS must do to consume Kontor's
 *  events without losing one or handling one twice. It prints each event of
 *  PRODUCER's stream on stdout as one line
 *
 *      <seq> <producer>.<type> <time, ISO-8601 UTC> <payload, lower-case hex; "-" if empty>
 *
 *  in sequence order, and keeps the seq of the last event it handled in an
 *  offset file. Its effect is the printed line; yours will be a row in your
 *  own database, and your offset belongs in that database, written in the
 *  same transaction as the row (then a crash can never separate them).
 *
 *  The rules (docs/protocol.md, "Events"), and where each one is below:
 *
 *  1. Subscribe to everything under "<PRODUCER>." on KONTOR_EVENTS_OUT, even
 *     when you want only some types: a gap is visible only to a subscriber
 *     that sees every seq, and the "$head" beacon comes under the same
 *     prefix. Filter after ordering (s_handle_run), never in the subscription.
 *  2. Keep `last`, the seq of the last event handled. Handle only seq ==
 *     last + 1; drop seq <= last (handled already: publish-subscribe and
 *     catching up overlap); a seq > last + 1 is a gap: drop it too, and fetch
 *     what is missing with EventsSince (s_on_live).
 *  3. Call the producer's EventsSince(after_seq = last) on start (after
 *     subscribing, so that nothing falls between the two), on any gap, when
 *     a "$head" beacon says the producer is beyond `last`, and when the stream
 *     has been silent for three beacons. Page on until a reply is short or
 *     reaches its head_seq (s_catch_up). Keep pages small (200 here): the
 *     producer cuts a page by count (at most 1,000), not by size, and the
 *     whole reply must fit in one frame of KONTOR_MAX_MSG (1 MiB).
 *  4. Save `last` after the effect, never before: print, flush, sync, and
 *     only then write the offset file atomically (s_handle_run,
 *     s_offset_save). A crash between the two repeats the events after the
 *     saved offset (printing is at-least-once); no event at or below the
 *     saved offset is ever handled again.
 *  5. OUT_OF_RANGE (reason events_expired): the producer no longer keeps the
 *     events you need (KONTOR_OUTBOX_RETENTION_S, 7 days by default).
 *     Nothing automatic can repair that: stop and say so (s_expired).
 *
 *  Connection: KONTOR_EVENTS_OUT and KONTOR_BUS (the bus's endpoints),
 *  KONTOR_CERT (this consumer's secret key; default
 *  $KONTOR_HOME/keys/secret/wms-1.secret, the local set's logistics-system
 *  principal), KONTOR_BUS_CERT (the bus's public certificate),
 *  KONTOR_TIMEOUT_MS (budget of one EventsSince call), KONTOR_MAX_MSG. They
 *  are read by kt_config like in every Kontor program; apart from that,
 *  nothing here uses Kontor's own library: sockets, frames and messages are
 *  plain CZMQ and protobuf-c (kontor.pb-c.h is protoc-c's output for
 *  proto/kontor.proto), so the same steps carry over to any language with
 *  ZeroMQ (CURVE) and protobuf.
 *
 *  Exit status: 0 after --count events, or on SIGTERM/SIGINT (the offset is
 *  saved after every batch, so it is saved then too); 1 a failure waiting
 *  will not cure (the producer refused the call, keys unreadable, offset file
 *  or stdout not writable); 2 a usage error; 3 the events after the offset
 *  are no longer kept. An unreachable bus or producer is not a failure: the
 *  consumer says so on stderr and keeps trying.
 */
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kontor.pb-c.h"
#include "kt_config.h"

#define S_EXIT_OK      0
#define S_EXIT_FAILED  1
#define S_EXIT_USAGE   2
#define S_EXIT_EXPIRED 3

#define S_FETCH_LIMIT    200    //  events per EventsSince page; the reply must fit KONTOR_MAX_MSG
#define S_LIVE_BATCH     500    //  live events handled per offset write, at most
#define S_QUIET_MS       3000   //  silence that makes us ask: three "$head" beacons (1 s apart)
#define S_RETRY_MS       1000   //  after a failed EventsSince, no new call before this
#define S_ATTEMPT_MIN_MS 1000   //  shortest wait before re-sending an unanswered call
#define S_GRACE_MS       250    //  past the budget, for the bus's own verdict (UNAVAILABLE)
#define S_SNDTIMEO_MS    1000   //  a send to an unreachable bus fails instead of blocking
#define S_HWM            100000 //  messages queued per socket before ZeroMQ drops (SUB)
#define S_PRODUCER_MAX   32     //  bytes in a service name
#define S_TYPE_MAX       64     //  bytes in an event type
#define S_SHOW_MAX       120    //  bytes of an untrusted string shown in a message
#define S_LATEST_SEQ     ((uint64_t)INT64_MAX) //  the largest seq there can be (a bigint)
#define S_HEAD           "$head"               //  type of the producer's beacon
#define S_CLIENT_HEADER  "KTC1"                //  second frame of a caller's request and its reply
#define S_STOPPED        (-1)                  //  s_events_since: a stop signal came while waiting

//  Everything one run knows.
typedef struct {
    //  What to follow, from the command line.
    const char *producer;    //  the service whose stream this is ("orders")
    char *const *types;      //  print only these types; every type when ntypes is 0
    int ntypes;              //  entries in types
    const char *offset_path; //  the offset file, or NULL (offset kept in memory only)
    uint64_t count;          //  stop after printing this many; 0: run until a signal
    int timeout_ms;          //  budget of one EventsSince call (KONTOR_TIMEOUT_MS)
    //  Connections.
    zsock_t *sub;    //  SUB on KONTOR_EVENTS_OUT: the live stream
    zsock_t *dealer; //  DEALER on KONTOR_BUS: EventsSince calls
    int sigfd;       //  signalfd delivering SIGTERM and SIGINT
    //  Progress.
    uint64_t last;       //  seq of the last event handled (printed or passed over)
    uint64_t head;       //  highest seq the producer is known to have published
    uint64_t printed;    //  events printed by this run
    int64_t retry_at;    //  no EventsSince before this (zclock_mono) after a failure
    bool stdout_is_file; //  sync stdout to disk before saving the offset
    bool warned_behind;  //  said once that the producer is behind our offset
    bool stop;           //  leave: a signal, --count reached, or a failure
    int exit_code;       //  what main returns once stopped
} s_follower_t;

//  ---------------------------------------------------------------- small helpers

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: kontor-events [--from SEQ] [--offset-file PATH] [--count N] PRODUCER "
            "[TYPE...]\n"
            "\n"
            "Prints every event of PRODUCER's stream (a Kontor service: orders, logistics,\n"
            "...) once, in order, one line each:\n"
            "\n"
            "    <seq> <producer>.<type> <time, ISO-8601 UTC> <payload, hex; - if empty>\n"
            "\n"
            "With TYPE arguments only events of those types are printed; the others are\n"
            "still passed over in order. Runs until SIGTERM or SIGINT.\n"
            "\n"
            "  --offset-file PATH  keep the seq of the last event handled in PATH (replaced\n"
            "                      atomically after each batch) and go on from it next time\n"
            "  --from SEQ          start at event SEQ (default 1) when PATH does not exist yet\n"
            "  --count N           exit 0 after printing N events\n"
            "\n"
            "Connects with KONTOR_EVENTS_OUT, KONTOR_BUS, KONTOR_CERT (this consumer's secret\n"
            "key; default $KONTOR_HOME/keys/secret/wms-1.secret) and KONTOR_BUS_CERT.\n"
            "Exit status: 0 done or stopped by a signal, 1 failed, 2 usage error, 3 events\n"
            "after the offset are no longer kept. docs/integration.md has the whole story.\n"
            "\n"
            "example: kontor-events --offset-file wms.offset orders OrderConfirmed\n");
}

//  Copy at most size - 1 bytes of untrusted `src` for a message: anything but
//  printable ASCII becomes '?', so one message stays one line.
static char *s_clean(char *dst, size_t size, const void *src, size_t len)
{
    const unsigned char *s = src;
    size_t n = 0;
    for (; n < len && n + 1 < size; n++)
        dst[n] = s[n] >= 0x20 && s[n] < 0x7f ? (char)s[n] : '?';
    dst[n] = '\0';
    return dst;
}

//  One line on stderr. stdout is flushed first, so that when both go to one
//  file no line of either is cut by the other.
static void s_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_complain(const char *fmt, ...)
{
    fflush(stdout);
    va_list args;
    va_start(args, fmt);
    fputs("kontor-events: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

//  A sequence number: decimal digits only, 0 to INT64_MAX (seq is a bigint).
static bool s_parse_seq(const char *text, uint64_t *out)
{
    if (!text || !*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 19)
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);
    if (errno != 0 || v > S_LATEST_SEQ)
        return false;
    *out = (uint64_t)v;
    return true;
}

//  Service names: 1 to 32 of a-z, 0-9, '-' and '_'.
static bool s_valid_producer(const char *name)
{
    size_t len = strlen(name);
    return len >= 1 && len <= S_PRODUCER_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

//  Event types: an upper-case letter, then letters and digits, 64 at most.
static bool s_valid_type(const char *type)
{
    size_t len = strlen(type);
    return len >= 1 && len <= S_TYPE_MAX && type[0] >= 'A' && type[0] <= 'Z' &&
           strspn(type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == len;
}

static const char *s_status_name(int status)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&kontor__status__descriptor, status);
    return v ? v->name : "UNKNOWN";
}

//  Worth calling again later: the bus, the producer or its database is busy
//  or away. Anything else (PERMISSION_DENIED, say) will answer the same.
static bool s_retryable(int status)
{
    return status == KONTOR__STATUS__UNAVAILABLE || status == KONTOR__STATUS__DEADLINE_EXCEEDED ||
           status == KONTOR__STATUS__RESOURCE_EXHAUSTED || status == KONTOR__STATUS__ABORTED;
}

//  Unix milliseconds as 2026-03-01T10:15:30.123Z.
static void s_format_time(int64_t ms, char *buf, size_t size)
{
    int64_t secs = ms / 1000, milli = ms % 1000;
    if (milli < 0) {
        milli += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    size_t n = gmtime_r(&t, &tm) ? strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
    if (n == 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf + n, size - n, ".%03dZ", (int)milli);
}

//  A stop signal waiting? Never blocks. Signals are blocked in every thread
//  and arrive only through the signalfd, so they are taken where this run
//  chooses: between batches, never half way through one.
static bool s_signalled(s_follower_t *self)
{
    struct signalfd_siginfo info;
    if (read(self->sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
        self->stop = true;
        return true;
    }
    return false;
}

//  ---------------------------------------------------------------- the offset file

//  The file holds one line, "<producer> <seq>\n": the producer's name guards
//  against following one stream with another's offset.

//  Read the offset. 0 with *found false when there is no file yet; else an
//  exit status, the reason on stderr.
static int s_offset_load(s_follower_t *self, uint64_t *seq, bool *found)
{
    *found = false;
    FILE *file = fopen(self->offset_path, "re");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        s_complain("could not read offset file %s: %s", self->offset_path, strerror(errno));
        return S_EXIT_FAILED;
    }
    char text[S_PRODUCER_MAX + 32] = "";
    size_t len = fread(text, 1, sizeof text - 1, file);
    bool error = ferror(file);
    fclose(file);
    if (error) {
        s_complain("could not read offset file %s", self->offset_path);
        return S_EXIT_FAILED;
    }
    text[len] = '\0';
    char *space = strchr(text, ' ');
    char *newline = strchr(text, '\n');
    if (!space || !newline || newline != text + len - 1) {
        char shown[S_SHOW_MAX];
        s_complain("offset file %s is not \"<producer> <seq>\": \"%s\"", self->offset_path,
                   s_clean(shown, sizeof shown, text, len));
        return S_EXIT_FAILED;
    }
    *space = '\0';
    *newline = '\0';
    if (strcmp(text, self->producer) != 0) {
        char shown[S_SHOW_MAX];
        s_complain("offset file %s belongs to producer \"%s\", not \"%s\"", self->offset_path,
                   s_clean(shown, sizeof shown, text, strlen(text)), self->producer);
        return S_EXIT_USAGE;
    }
    if (!s_parse_seq(space + 1, seq)) {
        char shown[S_SHOW_MAX];
        s_complain("offset file %s holds no sequence number: \"%s\"", self->offset_path,
                   s_clean(shown, sizeof shown, space + 1, strlen(space + 1)));
        return S_EXIT_FAILED;
    }
    *found = true;
    return 0;
}

//  Make a rename in the folder of `path` durable: fsync the folder itself.
static void s_sync_folder(const char *path)
{
    char folder[KT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(folder, sizeof folder, ".");
    else if (slash == path)
        snprintf(folder, sizeof folder, "/");
    else
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - path), path);
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        //  Best effort: some file systems refuse fsync on a folder; the
        //  file's own contents are synced already.
        (void)fsync(fd);
        close(fd);
    }
}

//  Replace the offset file with `seq`, atomically: write a temporary file
//  beside it, fsync it, rename it over the old one, fsync the folder. A
//  crash at any point leaves either the old offset or the new one, whole.
//  Returns 0, or -1 with the reason on stderr.
static int s_offset_save(s_follower_t *self, uint64_t seq)
{
    if (!self->offset_path)
        return 0;
    char tmp[KT_PATH_MAX + 8];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", self->offset_path) >= sizeof tmp) {
        s_complain("offset file path is too long: %s", self->offset_path);
        return -1;
    }
    char text[S_PRODUCER_MAX + 32];
    int len = snprintf(text, sizeof text, "%s %" PRIu64 "\n", self->producer, seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto failed;
    ssize_t written = write(fd, text, (size_t)len);
    if (written != len || fsync(fd) != 0) {
        int saved = written >= 0 && written != len ? EIO : errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        goto failed;
    }
    if (close(fd) != 0 || rename(tmp, self->offset_path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        goto failed;
    }
    s_sync_folder(self->offset_path);
    return 0;

failed:
    s_complain("could not save offset %" PRIu64 " to %s: %s", seq, self->offset_path,
               strerror(errno));
    return -1;
}

//  ---------------------------------------------------------------- handling events

//  Why an event cannot be handled, or NULL if it is well-formed. The bus lets
//  only the producer's own key publish under its name, so this guards
//  against a producer's bug, not an attacker.
static const char *s_malformed(const s_follower_t *self, const Kontor__Event *ev)
{
    if (strcmp(ev->producer, self->producer) != 0)
        return "it names another producer";
    if (ev->seq == 0)
        return "its seq is 0";
    if (strcmp(ev->type, S_HEAD) != 0 && !s_valid_type(ev->type))
        return "its type is not a type name";
    return NULL;
}

static bool s_wanted(const s_follower_t *self, const char *type)
{
    if (self->ntypes == 0)
        return true;
    for (int i = 0; i < self->ntypes; i++)
        if (strcmp(self->types[i], type) == 0)
            return true;
    return false;
}

static void s_print_event(const s_follower_t *self, const Kontor__Event *ev)
{
    static const char hex[] = "0123456789abcdef";
    char when[48];
    s_format_time(ev->time_ms, when, sizeof when);
    printf("%" PRIu64 " %s.%s %s ", ev->seq, self->producer, ev->type, when);
    if (ev->payload.len == 0)
        putchar('-');
    for (size_t i = 0; i < ev->payload.len; i++) {
        putchar(hex[ev->payload.data[i] >> 4]);
        putchar(hex[ev->payload.data[i] & 0x0f]);
    }
    putchar('\n');
}

//  Handle a run of events that starts right after `last` and has no hole:
//  print the wanted ones, make the lines durable, then save the new offset.
//  In this order, a crash anywhere repeats lines but never skips one. Stops
//  early once --count events are printed, so the offset is exactly the last
//  one printed and the next run goes on from there. Returns 0, or -1 when
//  stdout or the offset file failed (the run stops with status 1).
static int s_handle_run(s_follower_t *self, Kontor__Event *const *events, size_t n)
{
    uint64_t upto = self->last;
    for (size_t i = 0; i < n && !self->stop; i++) {
        const Kontor__Event *ev = events[i];
        assert(ev->seq == upto + 1); //  callers pass consecutive runs only
        const char *why = s_malformed(self, ev);
        if (why)
            s_complain("skipped event %s #%" PRIu64 ": %s", self->producer, ev->seq, why);
        else if (s_wanted(self, ev->type)) {
            s_print_event(self, ev);
            self->printed++;
        }
        upto = ev->seq;
        if (self->count > 0 && self->printed == self->count)
            self->stop = true;
    }
    if (upto == self->last)
        return 0;
    //  The effect first: out of our buffer, and onto the disk when stdout is
    //  a file (a pipe or a terminal has nothing to sync).
    if (fflush(stdout) != 0 || (self->stdout_is_file && fdatasync(STDOUT_FILENO) != 0)) {
        s_complain("could not write events to stdout: %s", strerror(errno));
        goto failed;
    }
    //  Then the offset.
    if (s_offset_save(self, upto) != 0)
        goto failed;
    self->last = upto;
    if (upto > self->head)
        self->head = upto;
    return 0;

failed:
    self->stop = true;
    self->exit_code = S_EXIT_FAILED;
    return -1;
}

//  ---------------------------------------------------------------- calling EventsSince

//  Send one attempt: "" "KTC1" <producer> Request (the DEALER adds nothing;
//  the bus's ROUTER prepends our routing id). Returns 0 if queued.
static int s_send_request(s_follower_t *self, const Kontor__Request *req)
{
    zframe_t *body = zframe_new(NULL, kontor__request__get_packed_size(req));
    if (!body)
        return -1;
    kontor__request__pack(req, zframe_data(body));
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, S_CLIENT_HEADER);
    zmsg_addstr(msg, self->producer);
    zmsg_append(msg, &body);
    int rc = zmsg_send(&msg, self->dealer);
    zmsg_destroy(&msg);
    return rc;
}

//  Wait up to `wait_ms` for the reply to `request_id`: "" "KTC1" <service>
//  Reply. Replies to earlier attempts are dropped. Returns 1 with *reply
//  (caller frees), 0 on silence, S_STOPPED if a stop signal came.
static int s_wait_reply(s_follower_t *self, const char *request_id, int64_t wait_ms,
                        Kontor__Reply **reply)
{
    int64_t until = zclock_mono() + wait_ms;
    while (true) {
        int64_t left = until - zclock_mono();
        if (left <= 0)
            return 0;
        zmq_pollitem_t items[] = {
            {zsock_resolve(self->dealer), 0, ZMQ_POLLIN, 0},
            {NULL, self->sigfd, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, (long)left) < 0)
            continue; //  EINTR: only a signal we do not block (none that stops us)
        if ((items[1].revents & ZMQ_POLLIN) && s_signalled(self))
            return S_STOPPED;
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmsg_t *msg = zmsg_recv(self->dealer);
        if (!msg)
            continue;
        zframe_t *empty = zmsg_first(msg);
        zframe_t *header = zmsg_next(msg);
        zframe_t *service = zmsg_next(msg);
        zframe_t *body = zmsg_next(msg);
        Kontor__Reply *got = NULL;
        if (zmsg_size(msg) == 4 && zframe_size(empty) == 0 &&
            zframe_streq(header, S_CLIENT_HEADER) && zframe_streq(service, self->producer))
            got = kontor__reply__unpack(NULL, zframe_size(body), zframe_data(body));
        zmsg_destroy(&msg);
        if (!got) {
            s_complain("skipped a malformed reply from the bus");
            continue;
        }
        if (strcmp(got->request_id, request_id) == 0) {
            *reply = got;
            return 1;
        }
        kontor__reply__free_unpacked(got, NULL); //  a late answer to an earlier call
    }
}

//  Call <producer>.EventsSince(after_seq) through the bus. Returns the
//  reply's status: KONTOR__STATUS__OK with *out set (caller frees with
//  kontor__events_since_reply__free_unpacked), another status with the
//  reply's sentence in `message`, or S_STOPPED if a stop signal came while
//  waiting. No reply within the budget counts as DEADLINE_EXCEEDED.
//
//  EventsSince only reads, so an unanswered attempt is sent again with the
//  same request_id (the bus and the producer may see it twice; no harm),
//  each attempt carrying what is left of the budget.
static int s_events_since(s_follower_t *self, uint64_t after_seq, Kontor__EventsSinceReply **out,
                          char *message, size_t size)
{
    *out = NULL;
    message[0] = '\0';
    //  The method's own message goes into the envelope's payload.
    Kontor__EventsSinceRequest args = KONTOR__EVENTS_SINCE_REQUEST__INIT;
    args.after_seq = after_seq;
    args.limit = S_FETCH_LIMIT;
    uint8_t args_buf[32];
    assert(kontor__events_since_request__get_packed_size(&args) <= sizeof args_buf);
    size_t args_len = kontor__events_since_request__pack(&args, args_buf);

    char request_id[40];
    zuuid_t *uuid = zuuid_new();
    if (!uuid) {
        snprintf(message, size, "out of memory");
        return KONTOR__STATUS__RESOURCE_EXHAUSTED;
    }
    snprintf(request_id, sizeof request_id, "%s", zuuid_str(uuid));
    zuuid_destroy(&uuid);

    Kontor__Request req = KONTOR__REQUEST__INIT;
    req.method = "EventsSince";
    req.request_id = request_id;
    req.payload.data = args_buf;
    req.payload.len = args_len;

    int attempt_ms = self->timeout_ms / 3;
    if (attempt_ms < S_ATTEMPT_MIN_MS)
        attempt_ms = S_ATTEMPT_MIN_MS;
    int64_t deadline = zclock_mono() + self->timeout_ms;
    Kontor__Reply *reply = NULL;
    while (!reply) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        req.timeout_ms = (uint32_t)left;
        s_send_request(self, &req); //  a failed send is an attempt with no answer
        int64_t wait = left < attempt_ms ? left : attempt_ms;
        //  Last attempt: a moment past the budget for the bus's own verdict
        //  (UNAVAILABLE: no worker took it), which says more than silence.
        if (wait == left)
            wait += S_GRACE_MS;
        if (s_wait_reply(self, request_id, wait, &reply) == S_STOPPED)
            return S_STOPPED;
    }
    if (!reply) {
        snprintf(message, size,
                 "no answer from %s within %d ms (is the bus up, and this key in its "
                 "allow-list?)",
                 self->producer, self->timeout_ms);
        return KONTOR__STATUS__DEADLINE_EXCEEDED;
    }
    int status = reply->status;
    if (status == KONTOR__STATUS__OK) {
        //  protobuf-c keeps fields it does not know: a newer producer's
        //  additions do not break an older consumer.
        *out = kontor__events_since_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        if (!*out) {
            status = KONTOR__STATUS__INTERNAL;
            snprintf(message, size, "the reply of %s.EventsSince does not decode", self->producer);
        }
    } else {
        char shown[S_SHOW_MAX], reason[S_SHOW_MAX];
        s_clean(shown, sizeof shown, reply->message, strlen(reply->message));
        s_clean(reason, sizeof reason, reply->reason, strlen(reply->reason));
        snprintf(message, size, "%s%s%s%s", shown, *reason ? " (" : "", reason, *reason ? ")" : "");
    }
    kontor__reply__free_unpacked(reply, NULL);
    return status;
}

//  The producer no longer keeps the next event we need. The OUT_OF_RANGE
//  reply names what we asked for, not what is kept; asking for the events
//  after the largest possible seq gets none, but the reply's oldest_seq and
//  head_seq say what the producer still has. Stops the run with status 3.
static void s_expired(s_follower_t *self, const char *refusal)
{
    self->stop = true;
    self->exit_code = S_EXIT_EXPIRED;
    Kontor__EventsSinceReply *window = NULL;
    char why[256];
    int status = s_events_since(self, S_LATEST_SEQ, &window, why, sizeof why);
    if (status != KONTOR__STATUS__OK) {
        s_complain("%s no longer keeps event %" PRIu64 ", the next one this consumer needs: "
                   "%s; the oldest it keeps could not be read: %s",
                   self->producer, self->last + 1, refusal, status == S_STOPPED ? "stopped" : why);
        return;
    }
    s_complain("%s no longer keeps event %" PRIu64 ", the next one this consumer needs: the "
               "oldest it keeps is %" PRIu64 " (head %" PRIu64 ")",
               self->producer, self->last + 1, window->oldest_seq, window->head_seq);
    s_complain("hint: events %" PRIu64 " to %" PRIu64 " are lost to this consumer; reconcile "
               "what they changed with %s by other means, then start again with --from %" PRIu64
               " and a new offset file",
               self->last + 1, window->oldest_seq - 1, self->producer, window->oldest_seq);
    kontor__events_since_reply__free_unpacked(window, NULL);
}

//  Fetch and handle everything after `last`, page by page, until a reply is
//  short or we hold what the producer had when it answered.
static void s_catch_up(s_follower_t *self)
{
    if (zclock_mono() < self->retry_at)
        return;
    while (!self->stop && !s_signalled(self)) {
        Kontor__EventsSinceReply *rep = NULL;
        char message[256];
        int status = s_events_since(self, self->last, &rep, message, sizeof message);
        if (status == S_STOPPED)
            return;
        if (status == KONTOR__STATUS__OUT_OF_RANGE) {
            s_expired(self, message);
            return;
        }
        if (status != KONTOR__STATUS__OK) {
            s_complain("could not catch up with %s after %" PRIu64 ": %s: %s", self->producer,
                       self->last, s_status_name(status), message);
            if (s_retryable(status))
                self->retry_at = zclock_mono() + S_RETRY_MS;
            else {
                self->stop = true;
                self->exit_code = S_EXIT_FAILED;
            }
            return;
        }
        if (rep->head_seq > self->head)
            self->head = rep->head_seq;
        if (rep->head_seq < self->last && !self->warned_behind) {
            s_complain("%s has published up to %" PRIu64 ", behind this consumer's offset %" PRIu64
                       "; was its database restored, or is this the wrong offset file?",
                       self->producer, rep->head_seq, self->last);
            self->warned_behind = true;
        }
        //  Keep only a run that starts right after what we have.
        size_t n = 0;
        while (n < rep->n_events && rep->events[n]->seq == self->last + 1 + n)
            n++;
        if (n < rep->n_events) {
            s_complain("%s.EventsSince answered event %" PRIu64 " where %" PRIu64
                       " was due; the rest of its reply is dropped",
                       self->producer, rep->events[n]->seq, self->last + 1 + n);
            self->retry_at = zclock_mono() + S_RETRY_MS;
        }
        int rc = s_handle_run(self, rep->events, n);
        bool more = rc == 0 && n > 0 && n == rep->n_events && self->last < rep->head_seq;
        kontor__events_since_reply__free_unpacked(rep, NULL);
        if (!more)
            return;
    }
}

//  ---------------------------------------------------------------- the live stream

//  Read one message from SUB: "<producer>.<type>" Event. NULL for a
//  malformed one (one line on stderr).
static Kontor__Event *s_recv_event(s_follower_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        return NULL;
    Kontor__Event *ev = NULL;
    const char *why = NULL;
    zframe_t *topic = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    if (zmsg_size(msg) != 2)
        why = "it does not have two frames (topic, Event)";
    else if (!(ev = kontor__event__unpack(NULL, zframe_size(body), zframe_data(body))))
        why = "its body is not an Event";
    else if ((why = s_malformed(self, ev)) == NULL) {
        //  The topic must say what the body says.
        size_t plen = strlen(self->producer), tlen = strlen(ev->type);
        if (zframe_size(topic) != plen + 1 + tlen ||
            memcmp(zframe_data(topic), self->producer, plen) != 0 ||
            zframe_data(topic)[plen] != '.' ||
            memcmp(zframe_data(topic) + plen + 1, ev->type, tlen) != 0)
            why = "its topic does not match its producer and type";
    }
    if (why) {
        char shown[S_SHOW_MAX];
        s_complain("skipped a malformed message on topic \"%s\": %s",
                   s_clean(shown, sizeof shown, zframe_data(topic), zframe_size(topic)), why);
        if (ev)
            kontor__event__free_unpacked(ev, NULL);
        ev = NULL;
    }
    zmsg_destroy(&msg);
    return ev;
}

//  Take what is waiting on SUB (up to a batch), handle the run that follows
//  `last`, and catch up if anything is missing.
static void s_on_live(s_follower_t *self)
{
    Kontor__Event *run[S_LIVE_BATCH];
    size_t n = 0;
    bool gap = false;
    while (n < S_LIVE_BATCH && (zsock_events(self->sub) & ZMQ_POLLIN)) {
        Kontor__Event *ev = s_recv_event(self);
        if (!ev)
            continue;
        if (strcmp(ev->type, S_HEAD) == 0) {
            //  "$head": the producer's last seq, once a second.
            if (ev->seq > self->head)
                self->head = ev->seq;
            kontor__event__free_unpacked(ev, NULL);
            continue;
        }
        if (ev->seq > self->head)
            self->head = ev->seq;
        uint64_t expect = self->last + 1 + n;
        if (ev->seq == expect)
            run[n++] = ev;
        else {
            //  Below: handled already. Above: a gap; EventsSince fills it.
            if (ev->seq > expect)
                gap = true;
            kontor__event__free_unpacked(ev, NULL);
        }
    }
    s_handle_run(self, run, n);
    for (size_t i = 0; i < n; i++)
        kontor__event__free_unpacked(run[i], NULL);
    //  Behind the producer's head with nothing more waiting: what we lack
    //  was dropped on the way.
    if (!self->stop &&
        (gap || (self->head > self->last && !(zsock_events(self->sub) & ZMQ_POLLIN))))
        s_catch_up(self);
}

//  Catch up, then follow the live stream until stopped.
static void s_follow(s_follower_t *self)
{
    s_catch_up(self);
    while (!self->stop) {
        zmq_pollitem_t items[] = {
            {zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0},
            {NULL, self->sigfd, ZMQ_POLLIN, 0},
        };
        int rc = zmq_poll(items, 2, S_QUIET_MS);
        if (rc < 0)
            continue; //  EINTR from a signal we do not block
        if ((items[1].revents & ZMQ_POLLIN) && s_signalled(self))
            break;
        if (items[0].revents & ZMQ_POLLIN)
            s_on_live(self);
        else if (rc == 0)
            s_catch_up(self); //  silent for three beacons: the stream may be gone
    }
}

//  ---------------------------------------------------------------- set-up

//  A socket to the bus, as a CURVE client with our key pair. The bus is the
//  CURVE server; its public key comes from KONTOR_BUS_CERT. ZAP domain
//  "kontor".
static zsock_t *s_bus_socket(int type, zcert_t *cert, const char *bus_key, const char *endpoint,
                             int max_msg_bytes)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        return NULL;
    zcert_apply(cert, sock);
    zsock_set_curve_serverkey(sock, bus_key);
    zsock_set_zap_domain(sock, "kontor");
    zsock_set_maxmsgsize(sock, max_msg_bytes);
    zsock_set_linger(sock, 0);
    zsock_set_sndtimeo(sock, S_SNDTIMEO_MS);
    zsock_set_rcvhwm(sock, S_HWM);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        s_complain("cannot connect to %s", endpoint);
        zsock_destroy(&sock);
    }
    return sock;
}

//  Our key pair from KONTOR_CERT. A public certificate loads too, with an
//  all-zero secret key: refuse it.
static zcert_t *s_load_secret(const char *path)
{
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        s_complain("cannot read this consumer's secret key %s (KONTOR_CERT)", path);
        return NULL;
    }
    if (strcmp(zcert_secret_txt(cert), "0000000000000000000000000000000000000000") == 0) {
        s_complain("%s holds no secret key (KONTOR_CERT must name the .secret file)", path);
        zcert_destroy(&cert);
    }
    return cert;
}

//  Parse the command line into `self`. Returns -1 to go on, else the exit
//  status (0 after --help).
static int s_parse_args(s_follower_t *self, int argc, char **argv, uint64_t *from)
{
    static const struct option options[] = {
        {"from", required_argument, NULL, 'f'},
        {"offset-file", required_argument, NULL, 'o'},
        {"count", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *from = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (!s_parse_seq(optarg, from) || *from == 0) {
                s_complain("--from must be a sequence number, 1 or more: \"%s\"", optarg);
                return S_EXIT_USAGE;
            }
            break;
        case 'o':
            if (!*optarg || strlen(optarg) >= KT_PATH_MAX) {
                s_complain("--offset-file must be a path of 1 to %d bytes", KT_PATH_MAX - 1);
                return S_EXIT_USAGE;
            }
            self->offset_path = optarg;
            break;
        case 'c':
            if (!s_parse_seq(optarg, &self->count) || self->count == 0) {
                s_complain("--count must be a positive number: \"%s\"", optarg);
                return S_EXIT_USAGE;
            }
            break;
        case 'h':
            s_usage(stdout);
            return S_EXIT_OK;
        case ':':
            s_complain("option %s needs a value (try --help)", argv[optind - 1]);
            return S_EXIT_USAGE;
        default:
            s_complain("unknown option \"%s\" (try --help)", argv[optind - 1]);
            return S_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    self->producer = argv[optind];
    if (!s_valid_producer(self->producer)) {
        char shown[S_SHOW_MAX];
        s_complain("PRODUCER must be a service name (1 to %d of a-z, 0-9, - and _): \"%s\"",
                   S_PRODUCER_MAX,
                   s_clean(shown, sizeof shown, argv[optind], strlen(argv[optind])));
        return S_EXIT_USAGE;
    }
    self->types = argv + optind + 1;
    self->ntypes = argc - optind - 1;
    for (int i = 0; i < self->ntypes; i++)
        if (!s_valid_type(self->types[i])) {
            char shown[S_SHOW_MAX];
            s_complain("TYPE must be an event type (an upper-case letter, then letters and "
                       "digits): \"%s\"",
                       s_clean(shown, sizeof shown, self->types[i], strlen(self->types[i])));
            return S_EXIT_USAGE;
        }
    return -1;
}

int main(int argc, char **argv)
{
    s_follower_t self_s = {.sigfd = -1, .exit_code = S_EXIT_OK}, *self = &self_s;
    uint64_t from;
    int rc = s_parse_args(self, argc, argv, &from);
    if (rc >= 0)
        return rc;
    //  The name only sets the default key file (KONTOR_CERT).
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "wms-1", why, sizeof why) != 0) {
        s_complain("%s", why);
        return S_EXIT_USAGE;
    }
    self->timeout_ms = cfg.timeout_ms;

    //  Signals before any thread exists (ZeroMQ starts its own), so that
    //  every thread inherits the mask and SIGTERM/SIGINT come only through
    //  the signalfd. CZMQ must not install its own handlers.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, NULL);
    signal(SIGPIPE, SIG_IGN); //  a closed stdout is an error from fflush, not a death
    zsys_handler_set(NULL);
    self->sigfd = signalfd(-1, &stops, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->sigfd < 0) {
        s_complain("cannot receive signals: %s", strerror(errno));
        return S_EXIT_FAILED;
    }

    zcert_t *cert = NULL;
    self->exit_code = S_EXIT_FAILED;
    //  Where to start: the offset file if there is one, else --from.
    if (self->offset_path) {
        bool found;
        rc = s_offset_load(self, &self->last, &found);
        if (rc != 0) {
            self->exit_code = rc;
            goto cleanup;
        }
        if (found && from != 1)
            s_complain("offset file %s says %" PRIu64 "; --from %" PRIu64 " is ignored",
                       self->offset_path, self->last, from);
        if (!found) {
            //  A new file is written now, so an unwritable path fails at
            //  start, not after the first batch has been printed.
            self->last = from - 1;
            if (s_offset_save(self, self->last) != 0)
                goto cleanup;
        }
    } else
        self->last = from - 1;
    self->head = self->last;
    struct stat st;
    self->stdout_is_file = fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode);

    cert = s_load_secret(cfg.cert);
    if (!cert)
        goto cleanup;
    zcert_t *bus_cert = zcert_load(cfg.bus_cert);
    if (!bus_cert) {
        s_complain("cannot read the bus's public certificate %s (KONTOR_BUS_CERT)", cfg.bus_cert);
        goto cleanup;
    }
    char bus_key[41];
    snprintf(bus_key, sizeof bus_key, "%s", zcert_public_txt(bus_cert));
    zcert_destroy(&bus_cert);

    //  Subscribe first, then catch up (s_follow): an event published
    //  between the two arrives live, or is fetched on the gap or the next
    //  "$head" it leaves behind.
    self->sub = s_bus_socket(ZMQ_SUB, cert, bus_key, cfg.events_out, cfg.max_msg_bytes);
    self->dealer = s_bus_socket(ZMQ_DEALER, cert, bus_key, cfg.bus, cfg.max_msg_bytes);
    if (!self->sub || !self->dealer)
        goto cleanup;
    char prefix[S_PRODUCER_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s.", self->producer);
    zsock_set_subscribe(self->sub, prefix);

    self->exit_code = S_EXIT_OK;
    s_follow(self);

cleanup:
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->sub);
    zcert_destroy(&cert);
    close(self->sigfd);
    return self->exit_code;
}
