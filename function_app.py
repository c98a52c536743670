# mypy: disable-error-code="untyped-decorator"
"""aks-argocd-wif as an Azure Functions app (Python v2 model, Durable Functions): a list of bindings.

Every body is a line or two calling ``wif_functions``; importing this module
loads neither ``wif_core`` nor any Azure SDK (cold start), only the Functions
and Durable Functions libraries the host needs to index it.
"""
import azure.durable_functions as df
import azure.functions as func

from wif_functions import activities, eventgrid, http_api, orchestrator

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def on_cluster_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """Event Grid (EventGrid or CloudEvents schema): managedClusters write -> register, delete -> deregister."""
    await eventgrid.handle(event, client)


@app.route(route="clusters")
@app.durable_client_input(client_name="client")
async def clusters(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """GET /api/clusters: the registered clusters; POST {"clusterId": "<ARM id>"}: register."""
    return await http_api.collection(req, client)


@app.route(route="clusters/{subscription}/{resourceGroup}/{name}")
@app.durable_client_input(client_name="client")
async def cluster(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """GET status, POST register, DELETE deregister one cluster."""
    return await http_api.item(req, client)


@app.orchestration_trigger(context_name="context")
def cluster_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """One instance per cluster: walks wif_core.chain with retries and durable timers."""
    return (yield from orchestrator.orchestrate(context))


@app.activity_trigger(input_name="payload")
def run_step(payload: dict) -> dict:  # type: ignore[type-arg]
    """One step of the chain: JSON in, outcome JSON out."""
    return activities.run_step(payload)
