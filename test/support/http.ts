/** The JSON body of a response, untyped: tests assert on its shape. */
// biome-ignore lint: tests read arbitrary JSON
export async function json(response: Response | Promise<Response>): Promise<any> {
  return await (await response).json();
}
