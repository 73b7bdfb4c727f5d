/** The JSON body of a response, untyped: tests assert on its shape. */
export async function json(response: Response | Promise<Response>): Promise<any> {
  return await (await response).json();
}
