// SPDX-License-Identifier: MIT
/*
 * The names Redis knows as commands (redis.h): the core commands of
 * Redis 7.x as COMMAND LIST gives them (7.0), with those 7.2, 7.4 and 8.0
 * added (WAITAOF, the hash field expiry commands, HGETDEL/HGETEX/HSETEX,
 * the vector sets' V*), 6.x's STRALGO and SENTINEL, and the
 * modules' PREFIX.NAME (JSON.SET, FT.SEARCH, TS.ADD, BF.ADD...).
 */
#include "protocol/redis.h"

#include <stdlib.h>
#include <string.h>

/* Sorted (strcmp), upper case: bsearch() finds a name in log2(266) = 9
 * comparisons. */
static const char *const redis_commands[] = {
	"ACL", "APPEND", "ASKING", "AUTH", "BGREWRITEAOF", "BGSAVE",
	"BITCOUNT", "BITFIELD", "BITFIELD_RO", "BITOP", "BITPOS", "BLMOVE",
	"BLMPOP", "BLPOP", "BRPOP", "BRPOPLPUSH", "BZMPOP", "BZPOPMAX",
	"BZPOPMIN", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "COPY",
	"DBSIZE", "DEBUG", "DECR", "DECRBY", "DEL", "DISCARD", "DUMP", "ECHO",
	"EVAL", "EVALSHA", "EVALSHA_RO", "EVAL_RO", "EXEC", "EXISTS",
	"EXPIRE", "EXPIREAT", "EXPIRETIME", "FAILOVER", "FCALL", "FCALL_RO",
	"FLUSHALL", "FLUSHDB", "FUNCTION", "GEOADD", "GEODIST", "GEOHASH",
	"GEOPOS", "GEORADIUS", "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO",
	"GEORADIUS_RO", "GEOSEARCH", "GEOSEARCHSTORE", "GET", "GETBIT",
	"GETDEL", "GETEX", "GETRANGE", "GETSET", "HDEL", "HELLO", "HEXISTS",
	"HEXPIRE", "HEXPIREAT", "HEXPIRETIME", "HGET", "HGETALL", "HGETDEL",
	"HGETEX", "HINCRBY", "HINCRBYFLOAT", "HKEYS", "HLEN", "HMGET",
	"HMSET", "HPERSIST", "HPEXPIRE", "HPEXPIREAT", "HPEXPIRETIME",
	"HPTTL", "HRANDFIELD", "HSCAN", "HSET", "HSETEX", "HSETNX", "HSTRLEN",
	"HTTL", "HVALS", "INCR", "INCRBY", "INCRBYFLOAT", "INFO", "KEYS",
	"LASTSAVE", "LATENCY", "LCS", "LINDEX", "LINSERT", "LLEN", "LMOVE",
	"LMPOP", "LOLWUT", "LPOP", "LPOS", "LPUSH", "LPUSHX", "LRANGE",
	"LREM", "LSET", "LTRIM", "MEMORY", "MGET", "MIGRATE", "MODULE",
	"MONITOR", "MOVE", "MSET", "MSETNX", "MULTI", "OBJECT", "PERSIST",
	"PEXPIRE", "PEXPIREAT", "PEXPIRETIME", "PFADD", "PFCOUNT", "PFDEBUG",
	"PFMERGE", "PFSELFTEST", "PING", "PSETEX", "PSUBSCRIBE", "PSYNC",
	"PTTL", "PUBLISH", "PUBSUB", "PUNSUBSCRIBE", "QUIT", "RANDOMKEY",
	"READONLY", "READWRITE", "RENAME", "RENAMENX", "REPLCONF",
	"REPLICAOF", "RESET", "RESTORE", "RESTORE-ASKING", "ROLE", "RPOP",
	"RPOPLPUSH", "RPUSH", "RPUSHX", "SADD", "SAVE", "SCAN", "SCARD",
	"SCRIPT", "SDIFF", "SDIFFSTORE", "SELECT", "SENTINEL", "SET",
	"SETBIT", "SETEX", "SETNX", "SETRANGE", "SHUTDOWN", "SINTER",
	"SINTERCARD", "SINTERSTORE", "SISMEMBER", "SLAVEOF", "SLOWLOG",
	"SMEMBERS", "SMISMEMBER", "SMOVE", "SORT", "SORT_RO", "SPOP",
	"SPUBLISH", "SRANDMEMBER", "SREM", "SSCAN", "SSUBSCRIBE", "STRALGO",
	"STRLEN", "SUBSCRIBE", "SUBSTR", "SUNION", "SUNIONSTORE",
	"SUNSUBSCRIBE", "SWAPDB", "SYNC", "TIME", "TOUCH", "TTL", "TYPE",
	"UNLINK", "UNSUBSCRIBE", "UNWATCH", "VADD", "VCARD", "VDIM", "VEMB",
	"VGETATTR", "VINFO", "VLINKS", "VRANDMEMBER", "VREM", "VSETATTR",
	"VSIM", "WAIT", "WAITAOF", "WATCH", "XACK", "XADD", "XAUTOCLAIM",
	"XCLAIM", "XDEL", "XGROUP", "XINFO", "XLEN", "XPENDING", "XRANGE",
	"XREAD", "XREADGROUP", "XREVRANGE", "XSETID", "XTRIM", "ZADD",
	"ZCARD", "ZCOUNT", "ZDIFF", "ZDIFFSTORE", "ZINCRBY", "ZINTER",
	"ZINTERCARD", "ZINTERSTORE", "ZLEXCOUNT", "ZMPOP", "ZMSCORE",
	"ZPOPMAX", "ZPOPMIN", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
	"ZRANGEBYSCORE", "ZRANGESTORE", "ZRANK", "ZREM", "ZREMRANGEBYLEX",
	"ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYLEX",
	"ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE", "ZUNION",
	"ZUNIONSTORE",
};

static int name_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static bool is_letter(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* A module's command: letters, a dot, letters or '_' (FT._LIST). */
static bool module_command(const char *p, size_t len)
{
	const char *dot = memchr(p, '.', len);
	size_t prefix = dot ? (size_t)(dot - p) : 0;

	if (!prefix || prefix + 1 == len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (i != prefix && !is_letter(p[i]) && !(i > prefix && p[i] == '_'))
			return false;
	return true;
}

bool redis_command_known(const char *p, size_t len)
{
	char up[REDIS_NAME_MAX + 1];

	if (!len || len > REDIS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		/* No name holds another byte (a NUL would end the compare). */
		if (!is_letter(p[i]) && p[i] != '_' && p[i] != '-' && p[i] != '.')
			return false;
		up[i] = p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - 'a' + 'A') : p[i];
	}
	up[len] = '\0';
	if (memchr(p, '.', len))
		return module_command(p, len);
	return bsearch(up, redis_commands,
		       sizeof(redis_commands) / sizeof(redis_commands[0]),
		       sizeof(redis_commands[0]), name_cmp) != NULL;
}
