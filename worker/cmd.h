/* cmd.h - nmn-worker's subcommands, one file each (cmd_NAME.c). Each takes
 * argv after the subcommand name and returns the process exit status:
 * 0 ok, 1 user error (bad flags or values), 2 internal error. */
#ifndef NMN_CMD_H
#define NMN_CMD_H

int cmd_describe(int argc, char **argv);
int cmd_env_stats(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
