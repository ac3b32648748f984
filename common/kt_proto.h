/*  kt_proto - the frames of Kontor's bus protocol (docs/protocol.md).
 *
 *  Shaped like ZeroMQ RFC 7/MDP, with one difference that gives it its own
 *  header names: the bus stamps the caller's principal as a frame of its own
 *  on every request it hands a worker.
 *
 *    caller -> bus    ""  "KTC1"  service  Request
 *    bus -> caller    ""  "KTC1"  service  Reply
 *    worker -> bus    ""  "KTW1"  READY      service
 *                     ""  "KTW1"  REPLY      caller  ""  Reply
 *                     ""  "KTW1"  HEARTBEAT
 *                     ""  "KTW1"  DISCONNECT
 *    bus -> worker    ""  "KTW1"  REQUEST    caller  ""  Principal  Request
 *                     ""  "KTW1"  HEARTBEAT
 *                     ""  "KTW1"  DISCONNECT
 *
 *  Commands are one byte. A worker that sends DISCONNECT gets DISCONNECT
 *  back once the bus has removed it: everything the bus sent before that
 *  answer has arrived, so the worker can finish it and go.
 */
#ifndef KT_PROTO_H
#define KT_PROTO_H

#define KT_CLIENT_HEADER "KTC1"
#define KT_WORKER_HEADER "KTW1"

#define KT_CMD_READY 0x01
#define KT_CMD_REQUEST 0x02
#define KT_CMD_REPLY 0x03
#define KT_CMD_HEARTBEAT 0x04
#define KT_CMD_DISCONNECT 0x05

//  Frames in a message are capped as well as their size (ZMQ_MAXMSGSIZE caps
//  one frame only): nothing in the protocol has more than this many.
#define KT_MAX_FRAMES 8

//  The bus answers calls to this service itself.
#define KT_BUS_SERVICE "bus"

//  Service names: 1 to 32 of a-z, 0-9, '-' and '_'.
#define KT_SERVICE_NAME_MAX 32

//  The ZAP domain every Kontor socket uses; enforced, so a socket with no
//  ZAP handler answering refuses rather than allowing (libzmq 4.3 default).
#define KT_ZAP_DOMAIN "kontor"

#endif
