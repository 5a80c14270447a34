/*
 * berth_native: the few Linux system calls Node does not expose and that the
 * engine needs on hot paths (mount/umount for container root filesystems,
 * mknod and xattrs for overlay whiteouts during layer unpacking). Keeping them
 * in-process avoids a fork/exec per call. Errors are thrown as JS errors with
 * `code` set to the errno name, like Node's own fs errors.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s: %s%s%s", syscall, strerror(err), path ? " " : "", path ? path : "");
	napi_value code, message, error;
	const char *name = strerrorname_np(err);
	napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
	napi_create_error(env, code, message, &error);
	napi_value errnoval;
	napi_create_int32(env, -err, &errnoval);
	napi_set_named_property(env, error, "errno", errnoval);
	napi_set_named_property(env, error, "code", code);
	napi_throw(env, error);
	return NULL;
}

/* Returns a malloc'd copy of a JS string argument, or NULL for null/undefined. */
static char *get_str(napi_env env, napi_value v)
{
	napi_valuetype t;
	napi_typeof(env, v, &t);
	if (t != napi_string)
		return NULL;
	size_t len;
	napi_get_value_string_utf8(env, v, NULL, 0, &len);
	char *s = malloc(len + 1);
	napi_get_value_string_utf8(env, v, s, len + 1, &len);
	return s;
}

static double get_num(napi_env env, napi_value v)
{
	double d = 0;
	napi_get_value_double(env, v, &d);
	return d;
}

/* mount(source, target, fstype, flags, data) */
static napi_value js_mount(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *src = get_str(env, argv[0]), *tgt = get_str(env, argv[1]), *fs = get_str(env, argv[2]);
	unsigned long flags = (unsigned long)get_num(env, argv[3]);
	char *data = argc > 4 ? get_str(env, argv[4]) : NULL;
	int r = mount(src, tgt, fs, flags, data);
	int err = errno;
	napi_value ret = NULL;
	if (r < 0)
		ret = throw_errno(env, err, "mount", tgt);
	free(src); free(tgt); free(fs); free(data);
	return ret;
}

/* mountAt(dir, source, target, fstype, flags, data): mount with the working
 * directory set to dir, so overlay lowerdir options can be relative and stay
 * under the one-page option limit with many layers. */
static napi_value js_mount_at(napi_env env, napi_callback_info info)
{
	size_t argc = 6;
	napi_value argv[6];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *dir = get_str(env, argv[0]), *src = get_str(env, argv[1]), *tgt = get_str(env, argv[2]), *fs = get_str(env, argv[3]);
	unsigned long flags = (unsigned long)get_num(env, argv[4]);
	char *data = argc > 5 ? get_str(env, argv[5]) : NULL;
	napi_value ret = NULL;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		ret = throw_errno(env, errno, "getcwd", NULL);
	} else if (chdir(dir) < 0) {
		ret = throw_errno(env, errno, "chdir", dir);
	} else {
		int r = mount(src, tgt, fs, flags, data);
		int err = errno;
		if (chdir(cwd) < 0) { /* nothing sensible to do; cwd is not used by berth */ }
		if (r < 0)
			ret = throw_errno(env, err, "mount", tgt);
	}
	free(dir); free(src); free(tgt); free(fs); free(data);
	return ret;
}

static napi_value js_umount(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *tgt = get_str(env, argv[0]);
	int flags = argc > 1 ? (int)get_num(env, argv[1]) : 0;
	int r = umount2(tgt, flags);
	int err = errno;
	napi_value ret = NULL;
	if (r < 0)
		ret = throw_errno(env, err, "umount", tgt);
	free(tgt);
	return ret;
}

/* mknod(path, mode, major, minor) */
static napi_value js_mknod(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = get_str(env, argv[0]);
	mode_t mode = (mode_t)get_num(env, argv[1]);
	dev_t dev = makedev((unsigned)get_num(env, argv[2]), (unsigned)get_num(env, argv[3]));
	int r = mknod(path, mode, dev);
	int err = errno;
	napi_value ret = NULL;
	if (r < 0)
		ret = throw_errno(env, err, "mknod", path);
	free(path);
	return ret;
}

/* lsetxattr(path, name, buffer) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = get_str(env, argv[0]), *name = get_str(env, argv[1]);
	void *data = NULL;
	size_t len = 0;
	napi_get_buffer_info(env, argv[2], &data, &len);
	int r = lsetxattr(path, name, data, len, 0);
	int err = errno;
	napi_value ret = NULL;
	if (r < 0)
		ret = throw_errno(env, err, "lsetxattr", path);
	free(path); free(name);
	return ret;
}

/* lgetxattr(path, name) -> Buffer | null */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = get_str(env, argv[0]), *name = get_str(env, argv[1]);
	char buf[65536];
	ssize_t n = lgetxattr(path, name, buf, sizeof(buf));
	int err = errno;
	napi_value ret = NULL;
	if (n < 0) {
		if (err == ENODATA || err == ENOTSUP)
			napi_get_null(env, &ret);
		else
			ret = throw_errno(env, err, "lgetxattr", path);
	} else {
		void *out;
		napi_create_buffer_copy(env, (size_t)n, buf, &out, &ret);
	}
	free(path); free(name);
	return ret;
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = get_str(env, argv[0]);
	char buf[65536];
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	int err = errno;
	napi_value ret = NULL;
	if (n < 0) {
		if (err == ENOTSUP) {
			napi_create_array(env, &ret);
		} else {
			ret = throw_errno(env, err, "llistxattr", path);
		}
	} else {
		napi_create_array(env, &ret);
		uint32_t idx = 0;
		for (ssize_t i = 0; i < n;) {
			size_t l = strlen(buf + i);
			napi_value s;
			napi_create_string_utf8(env, buf + i, l, &s);
			napi_set_element(env, ret, idx++, s);
			i += (ssize_t)l + 1;
		}
	}
	free(path);
	return ret;
}

/* flock(fd, op): advisory lock keeping two daemons off one data-root. */
static napi_value js_flock(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	int fd = (int)get_num(env, argv[0]);
	int op = (int)get_num(env, argv[1]);
	if (flock(fd, op) < 0)
		return throw_errno(env, errno, "flock", NULL);
	return NULL;
}

/* syncfs(path): flush the filesystem holding path (layer commits) without a sync(1) process. */
static napi_value js_syncfs(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = get_str(env, argv[0]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = errno;
	napi_value ret = NULL;
	if (fd < 0) {
		ret = throw_errno(env, err, "open", path);
	} else {
		if (syncfs(fd) < 0)
			ret = throw_errno(env, errno, "syncfs", path);
		close(fd);
	}
	free(path);
	return ret;
}

/* syncfsAsync(path) -> Promise: syncfs(2) on libuv's thread pool. Flushing a
 * filesystem after a pull or a build can take hundreds of ms; the event loop
 * must not wait for it. */
typedef struct {
	napi_async_work work;
	napi_deferred deferred;
	char *path;
	int err;
	const char *syscall;
} syncfs_job_t;

static void syncfs_execute(napi_env env, void *data)
{
	(void)env;
	syncfs_job_t *j = data;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		j->err = errno;
		j->syscall = "open";
		return;
	}
	if (syncfs(fd) < 0) {
		j->err = errno;
		j->syscall = "syncfs";
	}
	close(fd);
}

static void syncfs_complete(napi_env env, napi_status status, void *data)
{
	syncfs_job_t *j = data;
	if (status == napi_ok && j->err == 0) {
		napi_value undef;
		napi_get_undefined(env, &undef);
		napi_resolve_deferred(env, j->deferred, undef);
	} else {
		int err = j->err ? j->err : EIO;
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s: %s %s", j->syscall ? j->syscall : "syncfs", strerror(err), j->path);
		napi_value code, message, error;
		const char *name = strerrorname_np(err);
		napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
		napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
		napi_create_error(env, code, message, &error);
		napi_set_named_property(env, error, "code", code);
		napi_reject_deferred(env, j->deferred, error);
	}
	napi_delete_async_work(env, j->work);
	free(j->path);
	free(j);
}

static napi_value js_syncfs_async(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char *path = argc == 1 ? get_str(env, argv[0]) : NULL;
	if (!path) {
		napi_throw_type_error(env, NULL, "syncfsAsync: path required");
		return NULL;
	}
	syncfs_job_t *j = calloc(1, sizeof(*j));
	j->path = path;
	napi_value promise, name;
	napi_create_promise(env, &j->deferred, &promise);
	napi_create_string_utf8(env, "berth:syncfs", NAPI_AUTO_LENGTH, &name);
	napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, j, &j->work);
	napi_queue_async_work(env, j->work);
	return promise;
}

/* malloc_trim(0): hand freed heap pages back to the kernel. Node's Buffers come
 * from malloc, and glibc keeps what a burst of I/O freed (an idle berthd after
 * serving a large log would otherwise stay 30-50 MB above its working set). */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value ret;
	napi_get_boolean(env, malloc_trim(0) == 1, &ret);
	return ret;
}


#ifdef BERTH_ISAL
/*
 * gzip decoding with ISA-L's inflate, 2-3x faster than zlib's on layer data:
 * a pull spends most of its CPU here. Streaming and synchronous, so an unpack
 * worker decodes in its own thread without a trip through libuv's pool.
 *   gunzipNew() -> handle
 *   gunzipRun(handle, input, inputOffset, output, outputOffset)
 *     -> [input bytes consumed, output bytes written, 1 if a gzip member ended]
 *   gunzipReset(handle): start the next member of a multi-member stream
 *   gunzipEnd(handle): free it now (the GC would otherwise)
 */
#include <isa-l/igzip_lib.h>

/* The state lives apart from the handle so gunzipEnd can free it before the GC collects the handle. */
typedef struct {
	struct inflate_state *st;
} gunzip_t;

static void gunzip_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	gunzip_t *g = data;
	free(g->st);
	free(g);
}

static void gunzip_init(gunzip_t *g)
{
	isal_inflate_init(g->st);
	g->st->crc_flag = ISAL_GZIP;
}

static napi_value js_gunzip_new(napi_env env, napi_callback_info info)
{
	(void)info;
	gunzip_t *g = calloc(1, sizeof(*g));
	if (g)
		g->st = malloc(sizeof(*g->st));
	if (!g || !g->st) {
		free(g);
		return throw_errno(env, ENOMEM, "gunzip", NULL);
	}
	gunzip_init(g);
	napi_value ext;
	napi_create_external(env, g, gunzip_finalize, NULL, &ext);
	return ext;
}

static gunzip_t *get_gunzip(napi_env env, napi_value v)
{
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL)
		return NULL;
	return p;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len)
{
	bool is;
	if (napi_is_typedarray(env, v, &is) != napi_ok || !is)
		return -1;
	napi_typedarray_type t;
	void *d;
	napi_value ab;
	size_t off;
	if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_uint8_array)
		return -1;
	*data = d;
	return 0;
}

static const char *isal_message(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK: return "invalid block type";
	case ISAL_INVALID_SYMBOL: return "invalid code";
	case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
	case ISAL_INVALID_WRAPPER: return "incorrect header check";
	case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
	default: return "invalid gzip data";
	}
}

static napi_value js_gunzip_run(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	gunzip_t *g = argc == 5 ? get_gunzip(env, argv[0]) : NULL;
	uint8_t *in, *out;
	size_t inlen, outlen;
	if (!g || !g->st || get_bytes(env, argv[1], &in, &inlen) || get_bytes(env, argv[3], &out, &outlen)) {
		napi_throw_type_error(env, NULL, "gunzipRun: bad arguments");
		return NULL;
	}
	double inoff = get_num(env, argv[2]), outoff = get_num(env, argv[4]);
	if (!(inoff >= 0 && inoff <= (double)inlen && outoff >= 0 && outoff <= (double)outlen)) {
		napi_throw_range_error(env, NULL, "gunzipRun: offset out of range");
		return NULL;
	}
	size_t ioff = (size_t)inoff, ooff = (size_t)outoff;
	/* ISA-L counts in 32 bits. */
	uint32_t ain = inlen - ioff > UINT32_MAX ? UINT32_MAX : (uint32_t)(inlen - ioff);
	uint32_t aout = outlen - ooff > UINT32_MAX ? UINT32_MAX : (uint32_t)(outlen - ooff);
	g->st->next_in = in + ioff;
	g->st->avail_in = ain;
	g->st->next_out = out + ooff;
	g->st->avail_out = aout;
	int r = isal_inflate(g->st);
	if (r < 0) {
		napi_value code, message, error;
		napi_create_string_utf8(env, "Z_DATA_ERROR", NAPI_AUTO_LENGTH, &code);
		napi_create_string_utf8(env, isal_message(r), NAPI_AUTO_LENGTH, &message);
		napi_create_error(env, code, message, &error);
		napi_set_named_property(env, error, "code", code);
		napi_throw(env, error);
		return NULL;
	}
	napi_value res, v;
	napi_create_array_with_length(env, 3, &res);
	napi_create_double(env, (double)(ain - g->st->avail_in), &v);
	napi_set_element(env, res, 0, v);
	napi_create_double(env, (double)(aout - g->st->avail_out), &v);
	napi_set_element(env, res, 1, v);
	napi_create_int32(env, g->st->block_state == ISAL_BLOCK_FINISH ? 1 : 0, &v);
	napi_set_element(env, res, 2, v);
	return res;
}

static napi_value js_gunzip_reset(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	gunzip_t *g = argc == 1 ? get_gunzip(env, argv[0]) : NULL;
	if (!g || !g->st) {
		napi_throw_type_error(env, NULL, "gunzipReset: bad handle");
		return NULL;
	}
	gunzip_init(g);
	return NULL;
}

/* Frees the decoder's state (tens of KB) at once; the handle stays, unusable, until the GC takes it. */
static napi_value js_gunzip_end(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	gunzip_t *g = argc == 1 ? get_gunzip(env, argv[0]) : NULL;
	if (g) {
		free(g->st);
		g->st = NULL;
	}
	return NULL;
}
#endif

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
		{"mountAt", NULL, js_mount_at, NULL, NULL, NULL, napi_default, NULL},
		{"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
		{"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
		{"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
		{"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
		{"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
		{"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
		{"syncfs", NULL, js_syncfs, NULL, NULL, NULL, napi_default, NULL},
		{"syncfsAsync", NULL, js_syncfs_async, NULL, NULL, NULL, napi_default, NULL},
		{"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_default, NULL},
#ifdef BERTH_ISAL
		{"gunzipNew", NULL, js_gunzip_new, NULL, NULL, NULL, napi_default, NULL},
		{"gunzipRun", NULL, js_gunzip_run, NULL, NULL, NULL, napi_default, NULL},
		{"gunzipReset", NULL, js_gunzip_reset, NULL, NULL, NULL, napi_default, NULL},
		{"gunzipEnd", NULL, js_gunzip_end, NULL, NULL, NULL, napi_default, NULL},
#endif
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
