/* net.h - actor and critic networks of science.md section 3, built from
 * (benchmark, arch, role, z_groups), over whole [T,B,.] sequences.
 *
 * nmn: c_t = [a_{t-1}, r_{t-1}, x_{t-1}] -> GRU stack -> relu dense -> z_t;
 *      x_t -> nm-satrelu layers modulated by z_{t-1} -> nm heads with z_t.
 * rnn: obs_t -> GRU stack -> satrelu dense layers -> linear heads.
 * Actor outputs (T,B,2*act_dim) = [mean | logvar] (logvar includes the -1.0
 * offset); critic outputs (T,B,1) = value.
 *
 * All parameters live in one flat float vector; `views` name its tensors
 * with the reference's names (golden/README.md), in the reference's order.
 * The state carried between sequences is one row per batch element:
 * [h of each GRU | z_t | x_t] (the last two for nmn only). */
#ifndef NMN_NET_H
#define NMN_NET_H

#include <stddef.h>

#include "../../common/bench.h"
#include "../../common/rng.h"
#include "dense.h"
#include "gru.h"
#include "nmdense.h"

enum nn_arch { ARCH_NMN, ARCH_RNN };
enum nn_role { ROLE_ACTOR, ROLE_CRITIC };
enum nn_zgroups { ZG_SHARED, ZG_PER_LAYER };

#define NET_LOGVAR_OFFSET (-1.0f)
#define NET_MAX_VIEWS 40

/* A named tensor inside the flat parameter vector: rows x cols with row
 * stride ld, starting at off. Weights are initialised, biases are zero. */
typedef struct net_view {
    char name[32];
    size_t off;
    int rows, cols, ld;
    int is_weight;
} net_view_t;

typedef struct net {
    const bench_info_t *bench;
    enum nn_arch arch;
    enum nn_role role;
    enum nn_zgroups zgroups;
    int obs_dim, classic_dim, act_dim, nout;
    int n_gru;
    gru_t gru[2];      /* nmn: neuromodulatory GRUs; rnn: the body */
    /* nmn */
    int k, cin;        /* width of z; of the neuromodulatory input c_t */
    dense_t zdense;    /* relu, produces z */
    int n_nm;
    nmdense_t nm[2];   /* hidden, satrelu, modulated by z_{t-1} */
    nmdense_t nmhead;  /* identity, modulated by z_t */
    /* rnn */
    int n_dense;
    dense_t dense[3];  /* satrelu */
    dense_t head;      /* linear */

    size_t n_params;
    int n_views;
    net_view_t views[NET_MAX_VIEWS];
    int state_width;   /* floats per batch row of carried state */
} net_t;

/* Activations of one forward pass over up to (T,B), for the backward pass.
 * Sized once; forward and backward never allocate. */
typedef struct net_ws {
    int T, B;
    float *mem;
    float *c;                  /* (T,B,cin) */
    gru_ws_t gru[2];
    float *z, *dz;             /* (T+1,B,k): block 0 is z_{-1} */
    nmdense_ws_t nm[2], nmhead;
    float *dense_y[3], *head_y;
    float *out;                /* (T,B,nout) */
    float *dbuf[2];            /* (T*B, widest layer): gradient ping-pong */
} net_ws_t;

/* Builds the layer table; returns 0, or -1 with a message in err. */
int net_init(net_t *net, const bench_info_t *bench, enum nn_arch arch,
             enum nn_role role, enum nn_zgroups zgroups, char *err,
             size_t errlen);
/* Truncated normal (std 0.1) weights, zero biases, in view order. */
void net_init_params(const net_t *net, float *params, rng_t *rng, double std);
const net_view_t *net_find_view(const net_t *net, const char *name);

/* Workspace for sequences of up to T steps and B rows; NULL if out of
 * memory. */
net_ws_t *net_ws_new(const net_t *net, int T, int B);
void net_ws_free(net_ws_t *ws);

/* Forward over obs (T,B,obs_dim) from state_in (B,state_width; NULL = all
 * zeros); writes ws->out, and state_out (B,state_width) if not NULL.
 * state_out may alias state_in. */
void net_forward(const net_t *net, const float *params, net_ws_t *ws,
                 const float *obs, int T, int B, const float *state_in,
                 float *state_out);
/* BPTT for the last forward: dout (T,B,nout) = dL/d(outputs).
 * grads += dL/dparams. The initial state is a constant: no gradient flows
 * into it. */
void net_backward(const net_t *net, const float *params, float *grads,
                  net_ws_t *ws, const float *obs, const float *dout, int T,
                  int B);
/* GEMM FLOPs of one forward (backward = 0) or backward pass. */
double net_flops(const net_t *net, int T, int B, int backward);

const char *net_arch_name(enum nn_arch arch);
const char *net_role_name(enum nn_role role);

#endif
