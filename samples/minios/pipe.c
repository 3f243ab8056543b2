/*
 * pipe.c - pipes: a one-way byte stream between processes, like Linux's
 * pipe(2) (fs/pipe.c, pipe(7)).
 *
 * Owns: the pipe buffers and their blocking rules. A reader of an empty pipe
 * and a writer of a full one block in the scheduler (never spin) until the
 * other side makes progress. Reading an empty pipe whose write ends are all
 * closed returns 0 (end of file); writing to a pipe nobody can read any more
 * fails with -EPIPE (Linux would also send SIGPIPE). file.c counts the open
 * ends and checks the user's buffers; this file trusts the pointers it gets.
 */
#include "kernel.h"

#define NPIPE     8
#define PIPE_BUF  512

struct pipe {
    int used, readers, writers;
    u32 head, tail;                    /* bytes written and read so far (mod 2^32) */
    u8  buf[PIPE_BUF];
};
static struct pipe pipes[NPIPE];

static int chan(struct pipe *p, int writer) { return CHAN_PIPE + 2 * (int)(p - pipes) + writer; }

struct pipe *pipe_alloc(void)
{
    for (int i = 0; i < NPIPE; i++)
        if (!pipes[i].used) {
            memset(&pipes[i], 0, sizeof(pipes[i]));
            pipes[i].used = 1;
            return &pipes[i];
        }
    return 0;
}

void pipe_open(struct pipe *p, int writer)
{
    if (writer) p->writers++; else p->readers++;
}

void pipe_close(struct pipe *p, int writer)
{
    if (writer) p->writers--; else p->readers--;
    wakeup(chan(p, !writer));          /* the other side sees EOF or EPIPE */
    if (!p->readers && !p->writers) p->used = 0;
}

int pipe_ready(struct pipe *p, int writer, int *ch)
{
    *ch = chan(p, writer);             /* what pipe_read/pipe_write/pipe_close wake */
    if (writer) return !p->readers ? POLLOUT | POLLHUP : p->head - p->tail < PIPE_BUF ? POLLOUT : 0;
    return p->head != p->tail ? POLLIN : !p->writers ? POLLIN | POLLHUP : 0;
}

int pipe_read(struct pipe *p, u8 *buf, u32 len)
{
    if (!len) return 0;
    while (p->head == p->tail) {
        if (!p->writers) return 0;     /* end of file */
        current->state = PROC_BLOCKED;
        current->chan = chan(p, 0);
        schedule();
    }
    u32 n = 0;
    while (n < len && p->tail != p->head) buf[n++] = p->buf[p->tail++ % PIPE_BUF];
    wakeup(chan(p, 1));
    return (int)n;
}

/* Writes all of buf, blocking while the pipe is full (a partial count only
 * when the readers go away midway). */
int pipe_write(struct pipe *p, const u8 *buf, u32 len)
{
    u32 n = 0;
    while (n < len) {
        if (!p->readers) return n ? (int)n : -EPIPE;
        if (p->head - p->tail == PIPE_BUF) {
            current->state = PROC_BLOCKED;
            current->chan = chan(p, 1);
            schedule();
            continue;
        }
        while (n < len && p->head - p->tail < PIPE_BUF) p->buf[p->head++ % PIPE_BUF] = buf[n++];
        wakeup(chan(p, 0));
    }
    return (int)n;
}
