import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A file path given by an environment variable. */
const path = z.string().min(1);

/**
 * NATS client settings shared by every service: credentials, TLS files and
 * whether this client creates the streams and buckets or binds to them.
 */
export const natsClientFields = {
  /** VICINAL_NATS_USER / VICINAL_NATS_PASSWORD */
  natsUser: z.string().min(1).optional(),
  natsPassword: z.string().min(1).optional(),
  /** VICINAL_NATS_TOKEN */
  natsToken: z.string().min(1).optional(),
  /** VICINAL_NATS_CA: CA file the NATS server certificate must chain to. */
  natsCa: path.optional(),
  /** VICINAL_NATS_CERT / VICINAL_NATS_KEY: client certificate and key files. */
  natsCert: path.optional(),
  natsKey: path.optional(),
  /**
   * VICINAL_NATS_TOPOLOGY: "create" makes missing streams and buckets,
   * "bind" uses existing ones. Default: "bind" when credentials are set (a
   * role account may not create them), else "create".
   */
  natsTopology: z.enum(['create', 'bind']),
};

/** Teacher-server TLS files (VICINAL_TLS_CERT, _KEY, _CLIENT_CA) and VICINAL_INSECURE. */
export const serverTlsFields = {
  tlsCert: path.optional(),
  tlsKey: path.optional(),
  /** With it, students need a certificate signed by this CA (mutual TLS). */
  tlsClientCa: path.optional(),
  /** Plaintext gRPC on a non-loopback address, on purpose. */
  insecure: z.boolean(),
};

/** Student-side TLS files towards teachers (VICINAL_TEACHER_TLS_*) and VICINAL_INSECURE. */
export const teacherClientTlsFields = {
  teacherTlsCa: path.optional(),
  teacherTlsCert: path.optional(),
  teacherTlsKey: path.optional(),
  /** VICINAL_TEACHER_TLS_SERVER_NAME: name to verify instead of the dialled host. */
  teacherTlsServerName: z.string().min(1).optional(),
  insecure: z.boolean(),
};

type NatsClientConfig = z.infer<z.ZodObject<typeof natsClientFields>>;
type ServerTlsConfig = z.infer<z.ZodObject<typeof serverTlsFields>>;
type TeacherClientTlsConfig = z.infer<z.ZodObject<typeof teacherClientTlsFields>>;

/** The environment variables behind the fields above, for messages. */
const envName: Record<string, string> = {
  natsUser: 'VICINAL_NATS_USER',
  natsPassword: 'VICINAL_NATS_PASSWORD',
  natsCert: 'VICINAL_NATS_CERT',
  natsKey: 'VICINAL_NATS_KEY',
  natsCa: 'VICINAL_NATS_CA',
  tlsCert: 'VICINAL_TLS_CERT',
  tlsKey: 'VICINAL_TLS_KEY',
  tlsClientCa: 'VICINAL_TLS_CLIENT_CA',
  teacherTlsCa: 'VICINAL_TEACHER_TLS_CA',
  teacherTlsCert: 'VICINAL_TEACHER_TLS_CERT',
  teacherTlsKey: 'VICINAL_TEACHER_TLS_KEY',
  teacherTlsServerName: 'VICINAL_TEACHER_TLS_SERVER_NAME',
};

/** The NATS settings from VICINAL_NATS_* variables (files stay paths here). */
export function natsClientEnv(env: NodeJS.ProcessEnv) {
  return {
    natsUser: env.VICINAL_NATS_USER || undefined,
    natsPassword: env.VICINAL_NATS_PASSWORD || undefined,
    natsToken: env.VICINAL_NATS_TOKEN || undefined,
    natsCa: env.VICINAL_NATS_CA || undefined,
    natsCert: env.VICINAL_NATS_CERT || undefined,
    natsKey: env.VICINAL_NATS_KEY || undefined,
    natsTopology:
      env.VICINAL_NATS_TOPOLOGY ||
      (env.VICINAL_NATS_USER || env.VICINAL_NATS_TOKEN ? 'bind' : 'create'),
  };
}

/** VICINAL_INSECURE: "1"/"true" on, unset/""/"0"/"false" off; anything else is refused. */
export function insecureFlag(value: string | undefined): boolean | string {
  if (value === undefined || value === '' || value === '0' || value === 'false')
    return false;
  if (value === '1' || value === 'true') return true;
  return value; // the schema rejects it, naming the field
}

/** Fields that must be given together; each missing partner is one issue. */
function pairs(
  value: Record<string, unknown>,
  ctx: z.RefinementCtx,
  rules: [field: string, needs: string][],
): void {
  for (const [field, needs] of rules) {
    if (value[field] !== undefined && value[needs] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `${envName[field] ?? field} is set, so ${envName[needs] ?? needs} is needed too`,
      });
    }
  }
}

/** Cross-field checks of the NATS settings (user needs password, cert needs key). */
export function checkNatsClient(value: NatsClientConfig, ctx: z.RefinementCtx): void {
  pairs(value, ctx, [
    ['natsUser', 'natsPassword'],
    ['natsPassword', 'natsUser'],
    ['natsCert', 'natsKey'],
    ['natsKey', 'natsCert'],
  ]);
}

/** Cross-field checks of the teacher-server TLS files. */
export function checkServerTls(value: ServerTlsConfig, ctx: z.RefinementCtx): void {
  pairs(value, ctx, [
    ['tlsCert', 'tlsKey'],
    ['tlsKey', 'tlsCert'],
    ['tlsClientCa', 'tlsCert'],
  ]);
}

/** Cross-field checks of the student's TLS files. */
export function checkTeacherClientTls(
  value: TeacherClientTlsConfig,
  ctx: z.RefinementCtx,
): void {
  pairs(value, ctx, [
    ['teacherTlsCert', 'teacherTlsKey'],
    ['teacherTlsKey', 'teacherTlsCert'],
    ['teacherTlsCert', 'teacherTlsCa'],
    ['teacherTlsServerName', 'teacherTlsCa'],
  ]);
}

/** A file could not be read; names the setting and the path. */
export class SettingsFileError extends Error {
  override readonly name = 'SettingsFileError';
}

function readSetting(field: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new SettingsFileError(
      `${envName[field] ?? field}: cannot read "${file}" (${(err as Error).message})`,
    );
  }
}

/** What connectBus takes besides the URL and name, files read. */
export interface NatsClientSecurity {
  user?: string;
  pass?: string;
  token?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  topology: 'create' | 'bind';
}

/** Reads the NATS TLS files and returns connectBus's security options. */
export function natsClientSecurity(config: NatsClientConfig): NatsClientSecurity {
  const ca = readSetting('natsCa', config.natsCa);
  const cert = readSetting('natsCert', config.natsCert);
  const key = readSetting('natsKey', config.natsKey);
  return {
    user: config.natsUser,
    pass: config.natsPassword,
    token: config.natsToken,
    tls: ca || cert ? { ca, cert, key } : undefined,
    topology: config.natsTopology,
  };
}

/** What startTeacherServer takes for transport security, files read. */
export interface ServerTransportSecurity {
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  insecure: boolean;
}

/** Reads the teacher server's certificate, key and client CA files. */
export function serverTransportSecurity(
  config: ServerTlsConfig,
): ServerTransportSecurity {
  const cert = readSetting('tlsCert', config.tlsCert);
  const key = readSetting('tlsKey', config.tlsKey);
  const clientCa = readSetting('tlsClientCa', config.tlsClientCa);
  return {
    tls: cert && key ? { cert, key, clientCa } : undefined,
    insecure: config.insecure,
  };
}

/** What TeacherClient / RemoteTeacher take for transport security, files read. */
export interface ClientTransportSecurity {
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
  insecure: boolean;
}

/** Reads the student's CA, client certificate and key files for teacher calls. */
export function teacherClientSecurity(
  config: TeacherClientTlsConfig,
): ClientTransportSecurity {
  const ca = readSetting('teacherTlsCa', config.teacherTlsCa);
  return {
    tls: ca
      ? {
          ca,
          cert: readSetting('teacherTlsCert', config.teacherTlsCert),
          key: readSetting('teacherTlsKey', config.teacherTlsKey),
          serverName: config.teacherTlsServerName,
        }
      : undefined,
    insecure: config.insecure,
  };
}

/**
 * The URL schemes taken for a NATS server. The client reads only host and
 * port from either: TLS comes from the TLS options (VICINAL_NATS_CA and the
 * rest), not from tls://.
 */
const NATS_SCHEMES = ['nats:', 'tls:'];

/**
 * What is wrong with a NATS URL (or comma-separated list of them, as the
 * client takes), or null: what the client would refuse only when connecting,
 * after a name lookup perhaps: an empty value, one that is not a URL, or one
 * of another scheme (http://, ftp://). A name without a scheme is taken as
 * nats://NAME (a host or a Kubernetes service).
 */
export function natsUrlProblem(value: string): string | null {
  for (const server of value.split(',')) {
    const withScheme = server.includes('://') ? server.trim() : `nats://${server.trim()}`;
    if (
      !URL.canParse(withScheme) ||
      !new URL(withScheme).hostname ||
      !NATS_SCHEMES.includes(new URL(withScheme).protocol)
    ) {
      return 'Expected a NATS URL such as nats://127.0.0.1:4222';
    }
  }
  return null;
}
