/** Which API addresses stay on this machine: the agent and clusterctl allow plain HTTP only there. */

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (a bare host, IPv6 without brackets). */
export function isLoopbackHost (host: string): boolean {
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(host)) return true
  return /^::1$|^(?:0{1,4}:){7}0{0,3}1$/i.test(host)
}
